// @ts-check
// Live preview of the agreement while the mediator types: a debounced POST of the form to the
// preview endpoint, which renders the PDF's body as HTML and stores nothing. Only the newest
// answer is shown, so a slow response never overwrites a newer one.
const form = /** @type {HTMLFormElement} */ (document.getElementById("draft-form"));
const pane = /** @type {HTMLElement} */ (document.getElementById("preview"));
const problems = /** @type {HTMLElement} */ (document.getElementById("preview-errors"));
const url = form.dataset.previewUrl || "";
const DELAY_MS = 300;
let timer = 0;
let sent = 0;

async function refresh() {
  const mine = ++sent;
  const body = new URLSearchParams(/** @type {any} */ (new FormData(form)));
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok || mine !== sent) return;
    const data = await response.json();
    if (mine !== sent) return;
    // Server-rendered from our own autoescaped template: the same markup the PDF is made from.
    pane.innerHTML = data.html;
    problems.replaceChildren(
      ...Object.values(data.errors || {}).map((text) => {
        const p = document.createElement("p");
        p.className = "muted";
        p.textContent = String(text);
        return p;
      }),
    );
    pane.dataset.updated = String(mine);
  } catch {
    // offline for a moment: the next keystroke tries again
  }
}

function schedule() {
  window.clearTimeout(timer);
  timer = window.setTimeout(refresh, DELAY_MS);
}

// More term rows without a round trip: a copy of the last row, emptied, with the next index.
const rows = /** @type {HTMLElement} */ (document.getElementById("term-rows"));
const addTerm = /** @type {HTMLButtonElement} */ (document.getElementById("add-term"));
const maxRows = Number(addTerm.dataset.max || "30");
addTerm.hidden = rows.children.length >= maxRows;
addTerm.addEventListener("click", () => {
  const last = /** @type {HTMLElement} */ (rows.lastElementChild);
  const next = rows.children.length;
  const copy = /** @type {HTMLElement} */ (last.cloneNode(true));
  copy.dataset.row = String(next);
  copy.querySelectorAll(".field-error").forEach((node) => node.remove());
  copy.querySelectorAll("input, textarea, select").forEach((node) => {
    const field = /** @type {HTMLInputElement} */ (node);
    field.name = field.name.replace(/^term-\d+-/, `term-${next}-`);
    if (field instanceof HTMLSelectElement) field.selectedIndex = 0;
    else field.value = "";
  });
  rows.append(copy);
  addTerm.hidden = rows.children.length >= maxRows;
  /** @type {HTMLElement} */ (copy.querySelector("textarea")).focus();
});

form.addEventListener("input", schedule);
form.addEventListener("change", schedule);
refresh();
