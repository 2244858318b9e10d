// WebAuthn on stepup's pages (SPEC §5: the only part that needs JavaScript). Served from the project
// (no CDN) with @simplewebauthn/browser's bundle; no inline script, so the CSP stays script-src 'self'.
// Each form marked data-webauthn carries its ceremony options (made and stored server-side) in
// data-options; the browser's answer goes into the hidden `response` field and the form is posted.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;

  function explain(err) {
    var name = err && err.name;
    if (name === 'NotAllowedError' || name === 'AbortError') {
      return 'The request was cancelled or timed out. Try again, or choose another way below.';
    }
    if (name === 'InvalidStateError') return 'This authenticator is already registered on your account.';
    if (name === 'SecurityError') return 'This page cannot use passkeys here (check the address).';
    return 'Your passkey or security key could not be used. Try again, or choose another way below.';
  }

  function show(form, message) {
    var box = form.querySelector('[data-webauthn-message]');
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function submitWith(form, credential) {
    form.querySelector('input[name="response"]').value = JSON.stringify(credential);
    form.submit();
  }

  function setUp(form) {
    var mode = form.getAttribute('data-webauthn');
    var options = JSON.parse(form.getAttribute('data-options'));
    var button = form.querySelector('[data-webauthn-start]');
    if (!lib || !lib.browserSupportsWebAuthn()) {
      show(form, 'This browser cannot use passkeys or security keys. Choose another way below.');
      if (button) button.disabled = true;
      return;
    }
    if (button) button.hidden = false;

    var run = function (useAutofill) {
      var ceremony =
        mode === 'register'
          ? lib.startRegistration({ optionsJSON: options })
          : lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: useAutofill });
      ceremony.then(
        function (credential) {
          submitWith(form, credential);
        },
        function (err) {
          // an autofill request is cancelled whenever the button starts a modal one: not an error
          if (useAutofill) return;
          show(form, explain(err));
        },
      );
    };

    if (button) {
      button.addEventListener('click', function (event) {
        event.preventDefault();
        if (mode === 'register') {
          var label = form.querySelector('input[name="label"]');
          if (label && !label.reportValidity()) return;
        }
        run(false);
      });
    }
    // passkey sign-in from the username field's autofill (conditional mediation), where supported
    if (mode === 'autofill') {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (!supported) return;
        var field = document.querySelector('input[data-passkey-autofill]');
        if (field) field.setAttribute('autocomplete', 'username webauthn');
        run(true);
      });
    }
  }

  // Issue #15 item 6: the server did not know the passkey the browser offered (removed by its owner or an
  // admin). Where the browser has the WebAuthn signal API it is told, so it stops offering that passkey;
  // the page already says so in words, with or without the API.
  function signalUnknownCredential() {
    var marker = document.querySelector('[data-unknown-credential]');
    var api = window.PublicKeyCredential;
    if (!marker || !api || typeof api.signalUnknownCredential !== 'function') return;
    try {
      var signalled = api.signalUnknownCredential({
        rpId: marker.getAttribute('data-rp-id'),
        credentialId: marker.getAttribute('data-unknown-credential'),
      });
      // best effort: a browser that refuses the signal changes nothing for the person
      if (signalled && typeof signalled.catch === 'function') signalled.catch(function () {});
    } catch (e) {
      /* an old implementation that throws: nothing to do */
    }
  }
  signalUnknownCredential();

  var forms = document.querySelectorAll('form[data-webauthn]');
  for (var i = 0; i < forms.length; i++) setUp(forms[i]);
})();
