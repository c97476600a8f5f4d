// @ts-check
// Evidence upload with a progress bar. Without this script the form posts normally; with it,
// XMLHttpRequest sends the same form (fetch() has no upload progress) and the bar follows
// the bytes sent. The server answers JSON because we ask for it.

/** @param {HTMLFormElement} form */
function enhance(form) {
  const bar = /** @type {HTMLProgressElement} */ (form.querySelector("progress"));
  const status = /** @type {HTMLElement} */ (form.querySelector(".upload-status"));
  const input = /** @type {HTMLInputElement} */ (form.querySelector('input[type="file"]'));
  const maxBytes = Number(form.dataset.maxBytes || 0);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    if (file && maxBytes && file.size > maxBytes) {
      status.textContent = form.dataset.tooLarge || "";
      return;
    }
    send(form, bar, status);
  });
}

/**
 * @param {HTMLFormElement} form
 * @param {HTMLProgressElement} bar
 * @param {HTMLElement} status
 */
function send(form, bar, status) {
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.setRequestHeader("Accept", "application/json");
  request.setRequestHeader("Idempotency-Key", crypto.randomUUID ? crypto.randomUUID() : String(Date.now()));
  bar.hidden = false;
  bar.value = 0;
  status.textContent = "0 %";
  request.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const percent = Math.round((event.loaded / event.total) * 100);
    bar.value = percent;
    status.textContent = `${percent} %`;
  });
  request.addEventListener("load", () => {
    if (request.status === 201) {
      bar.value = 100;
      status.textContent = "100 %";
      form.dataset.uploaded = "true";
      setTimeout(() => window.location.reload(), 600);
      return;
    }
    status.textContent = messageOf(request) || form.dataset.failed || "";
  });
  request.addEventListener("error", () => { status.textContent = form.dataset.failed || ""; });
  request.send(new FormData(form));
}

/** @param {XMLHttpRequest} request */
function messageOf(request) {
  try {
    return JSON.parse(request.responseText).message;
  } catch {
    return "";
  }
}

for (const form of document.querySelectorAll("form[data-evidence-upload]")) {
  enhance(/** @type {HTMLFormElement} */ (form));
}
