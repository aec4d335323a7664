// Passkeys (WebAuthn) for the second step and the account page. The page
// carries the options flexidp began the ceremony with on #passkey-button
// (data-options, JSON); the browser's answer is posted, as JSON, in the
// form's hidden "credential" field. Without this script (or a browser
// without WebAuthn) the button stays hidden and the page says why.
(function () {
  'use strict';
  var button = document.getElementById('passkey-button');
  if (!button) {
    return;
  }
  var form = button.form;
  var status = document.getElementById('passkey-status');
  if (!window.PublicKeyCredential || !navigator.credentials) {
    status.textContent = button.dataset.unsupported;
    return;
  }

  function toBytes(s) {
    var b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    var bin = atob(b64 + '===='.slice(b64.length % 4 || 4));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64URL(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBytes(c.id), transports: c.transports };
    });
  }

  // answer is the PublicKeyCredential as the server's parser reads it.
  function answer(cred) {
    var r = cred.response;
    var out = { id: cred.id, rawId: toBase64URL(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(), response: {
        clientDataJSON: toBase64URL(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = toBase64URL(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64URL(r.authenticatorData);
      out.response.signature = toBase64URL(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toBase64URL(r.userHandle);
      }
    }
    return out;
  }

  function ceremony() {
    var opts = JSON.parse(button.dataset.options).publicKey;
    opts.challenge = toBytes(opts.challenge);
    if (button.dataset.mode === 'create') {
      opts.user.id = toBytes(opts.user.id);
      opts.excludeCredentials = descriptors(opts.excludeCredentials);
      return navigator.credentials.create({ publicKey: opts });
    }
    opts.allowCredentials = descriptors(opts.allowCredentials);
    return navigator.credentials.get({ publicKey: opts });
  }

  button.hidden = false;
  button.addEventListener('click', function () {
    if (!form.reportValidity()) {
      return;
    }
    button.disabled = true;
    status.textContent = '';
    ceremony().then(function (cred) {
      document.getElementById('passkey-credential').value = JSON.stringify(answer(cred));
      form.submit();
    }).catch(function () {
      button.disabled = false;
      status.textContent = button.dataset.failed;
    });
  });
})();
