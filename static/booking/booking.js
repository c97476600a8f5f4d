// Progressive enhancement for booking pages; every page works without it.

// Slot search: choosing a mediator, date or length shows the free times at once.
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  for (const field of form.querySelectorAll("select, input")) {
    field.addEventListener("change", () => form.requestSubmit());
  }
}

// Ask before actions that reach the parties (cancel, new links).
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// Copy an invitation link (to paste into a chat with the party).
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      field.select(); // older WeChat browsers: let the person copy by hand
      return;
    }
    button.textContent = button.dataset.copied;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}
