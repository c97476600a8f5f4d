// Drawn signature: pointer events on a canvas, posted with the version hash the signer read.
const section = document.getElementById("signing");
const canvas = document.getElementById("signature-pad");
const errorBox = document.getElementById("sign-error");
const messages = JSON.parse(document.getElementById("sign-messages").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const ctx = canvas.getContext("2d");
let strokes = 0;
let drawing = false;

function fitCanvas() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  ctx.scale(ratio, ratio);
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  strokes = 0;
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [event.clientX - box.left, event.clientY - box.top];
}

canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  ctx.beginPath();
  ctx.moveTo(...point(event));
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  ctx.lineTo(...point(event));
  ctx.stroke();
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => {
    if (drawing) strokes += 1;
    drawing = false;
  });
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

document.getElementById("clear-signature").addEventListener("click", () => {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  strokes = 0;
});

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, message: answer.message };
}

const sendCode = document.getElementById("send-code");
const codeInput = document.getElementById("sign-code");
if (sendCode) {
  sendCode.addEventListener("click", async () => {
    sendCode.disabled = true;
    try {
      const answer = await post(section.dataset.codeUrl, {});
      if (answer.ok) {
        document.getElementById("code-sent").hidden = false;
        codeInput.focus();
      } else {
        showError(answer.message || messages.failed);
      }
    } catch {
      showError(messages.failed);
    }
    // A new code may be requested a minute later (the server says so if it is too soon).
    setTimeout(() => { sendCode.disabled = false; }, 60_000);
  });
}

document.getElementById("submit-signature").addEventListener("click", async (event) => {
  if (strokes === 0) return showError(messages.empty);
  if (!document.getElementById("consent").checked) return showError(messages.consent);
  if (codeInput && !/^[0-9]{6}$/.test(codeInput.value.trim())) return showError(messages.code);
  event.target.disabled = true;
  try {
    const answer = await post(section.dataset.url, {
      version_hash: section.dataset.hash,
      image: canvas.toDataURL("image/png"),
      code: codeInput ? codeInput.value.trim() : null,
      consent: true,
    });
    if (answer.ok) {
      window.location.assign(section.dataset.done);
      return;
    }
    showError(answer.message || messages.failed);
  } catch {
    showError(messages.failed);
  }
  event.target.disabled = false;
});

document.getElementById("submit-decline").addEventListener("click", async (event) => {
  event.target.disabled = true;
  try {
    const answer = await post(section.dataset.declineUrl, {
      version_hash: section.dataset.hash,
      reason: document.getElementById("decline-reason").value,
    });
    if (answer.ok) {
      window.location.assign(section.dataset.done);
      return;
    }
    showError(answer.message || messages.failed);
  } catch {
    showError(messages.failed);
  }
  event.target.disabled = false;
});

fitCanvas();
