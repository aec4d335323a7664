// Posts the SAML Response form as soon as the page loads (HTTP-POST binding).
document.getElementById('saml-post').submit();
