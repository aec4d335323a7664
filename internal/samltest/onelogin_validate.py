#!/usr/bin/python3
"""Validate a SAML Response the way a strict python3-saml (OneLogin) SP does.

Usage: onelogin_validate.py RESPONSE_B64_FILE CERT_PEM_FILE IDP_ENTITY_ID SP_ENTITY_ID ACS_URL [REQUEST_ID]
Prints the NameID and attributes as JSON on success; exits 1 with the
library's reason otherwise. Strict mode, both the message and the assertion
must be signed, SHA-1 rejected.
"""
import json
import sys
from urllib.parse import urlparse

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings


def main():
    resp_file, cert_file, idp_entity, sp_entity, acs = sys.argv[1:6]
    request_id = sys.argv[6] if len(sys.argv) > 6 else None
    with open(resp_file) as f:
        b64 = f.read().strip()
    with open(cert_file) as f:
        cert = f.read()
    settings = OneLogin_Saml2_Settings({
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp_entity,
            "assertionConsumerService": {"url": acs, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
            "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        },
        "idp": {
            "entityId": idp_entity,
            "singleSignOnService": {"url": idp_entity, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
            "x509cert": cert,
        },
        "security": {
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": False,
            "wantNameId": True,
            "rejectDeprecatedAlgorithm": True,
            "wantAttributeStatement": True,
            "allowRepeatAttributeName": False,
        },
    }, sp_validation_only=True)
    u = urlparse(acs)
    request_data = {
        "https": "on" if u.scheme == "https" else "off",
        "http_host": u.hostname,
        "server_port": str(u.port or (443 if u.scheme == "https" else 80)),
        "script_name": u.path,
        "get_data": {},
        "post_data": {"SAMLResponse": b64},
    }
    response = OneLogin_Saml2_Response(settings, b64)
    try:
        response.is_valid(request_data, request_id, raise_exceptions=True)
    except Exception as e:  # the library's own reason is what we want to see
        print("invalid: %s" % e, file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"nameid": response.get_nameid(), "nameid_format": response.get_nameid_format(),
                      "attributes": response.get_attributes(), "session_index": response.get_session_index()}))


if __name__ == "__main__":
    main()
