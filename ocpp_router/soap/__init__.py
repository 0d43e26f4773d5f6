"""OCPP-S: OCPP 1.5 and 1.6 over SOAP 1.2 with WS-Addressing, beside OCPP-J.

A SOAP request is turned into the JSON-equivalent payload of the same 1.6 action and goes
through the same dispatch, registry, boot gate and handlers as a websocket CALL; the
answer is rendered back with the types of the official WSDL (vendored in `wsdl/`, licences
in `wsdl/README.md`). Transport only: no functional app is imported here.
"""
