#!/usr/bin/python3
"""Check a SAML error Response the way python3-saml (OneLogin) reads one.

Usage: onelogin_error.py RESPONSE_B64_FILE CERT_PEM_FILE
The Response must match saml-schema-protocol-2.0.xsd, carry no Assertion,
and its signature must verify with the certificate (xmlsec, as python3-saml
does it). Prints the status code, second-level code and message as JSON;
exits 1 with the reason otherwise.
"""
import base64
import json
import sys

from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML


def main():
    resp_file, cert_file = sys.argv[1:3]
    with open(resp_file) as f:
        xml = base64.b64decode(f.read().strip())
    with open(cert_file) as f:
        cert = f.read()
    try:
        dom = OneLogin_Saml2_XML.validate_xml(xml, 'saml-schema-protocol-2.0.xsd', False)
        if not isinstance(dom, OneLogin_Saml2_XML._element_class):
            raise Exception('not valid against saml-schema-protocol-2.0.xsd: %s' % dom)
        if OneLogin_Saml2_XML.query(dom, '//saml:Assertion'):
            raise Exception('an error Response carries an Assertion')
        OneLogin_Saml2_Utils.validate_sign(xml, cert, xpath='/samlp:Response/ds:Signature')
        status = OneLogin_Saml2_Utils.get_status(dom)
        second = OneLogin_Saml2_XML.query(dom, '/samlp:Response/samlp:Status/samlp:StatusCode/samlp:StatusCode')
        message = OneLogin_Saml2_XML.query(dom, '/samlp:Response/samlp:Status/samlp:StatusMessage')
    except Exception as e:  # the library's own reason is what we want to see
        print("invalid: %s" % e, file=sys.stderr)
        sys.exit(1)
    print(json.dumps({
        "code": status["code"],
        "second": second[0].get("Value") if second else "",
        "message": OneLogin_Saml2_XML.element_text(message[0]) if message else "",
    }))


if __name__ == "__main__":
    main()
