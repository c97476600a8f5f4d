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

document.getElementById("submit-signature").addEventListener("click", async (event) => {
  if (strokes === 0) return showError(messages.empty);
  event.target.disabled = true;
  try {
    const response = await fetch(section.dataset.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrf },
      body: JSON.stringify({ version_hash: section.dataset.hash,
                             image: canvas.toDataURL("image/png") }),
    });
    if (response.ok) {
      window.location.assign(section.dataset.done);
      return;
    }
    const body = await response.json().catch(() => ({}));
    showError(body.message || messages.failed);
  } catch {
    showError(messages.failed);
  }
  event.target.disabled = false;
});

fitCanvas();
