// Issue #15: copy and print for the recovery codes page (no inline script: CSP script-src 'self').
// Without JavaScript the download link still works (a data: URL) and these buttons stay hidden.
for (const button of document.querySelectorAll('[data-codes-action]')) {
  button.hidden = false;
  button.addEventListener('click', async () => {
    if (button.dataset.codesAction === 'print') return window.print();
    const text = document.getElementById('recovery-codes-text').textContent;
    try {
      await navigator.clipboard.writeText(text);
      document.getElementById('codes-status').textContent = 'Copied.';
    } catch {
      document.getElementById('codes-status').textContent = 'Could not copy: select the codes and copy them yourself.';
    }
  });
}
