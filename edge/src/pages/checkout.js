// Progressive enhancement of the hosted checkout form (the page works without it): inline
// checks before submitting, card number spacing, and submitting without a full reload.
(() => {
  const $ = (id) => document.getElementById(id);
  const luhn = (digits) => {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = +digits[digits.length - 1 - i];
      if (i % 2) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return digits.length > 11 && digits.length < 20 && sum % 10 === 0;
  };
  const problems = (form) => {
    const says = JSON.parse(form.dataset.messages);
    const found = [];
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test($("email").value.trim())) found.push(["email", says.email]);
    const number = $("cc").value.replace(/[ -]/g, "");
    if (!/^\d+$/.test(number) || !luhn(number)) found.push(["cc", says.number]);
    const expiry = $("exp").value.replace(/\D/g, "");
    const month = +expiry.slice(0, 2);
    if (![4, 6].includes(expiry.length) || month < 1 || month > 12) found.push(["exp", says.expiry]);
    if (!/^\d{3,4}$/.test($("cvc").value.trim())) found.push(["cvc", says.cvc]);
    return found;
  };
  const show = (found) => {
    document.querySelectorAll(".fe").forEach((p) => p.remove());
    document.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    for (const [id, text] of found) {
      const input = $(id);
      input.setAttribute("aria-invalid", "true");
      const note = document.createElement("p");
      note.className = "fe";
      note.id = `${id}-error`;
      note.textContent = text;
      input.setAttribute("aria-describedby", note.id);
      input.after(note);
    }
    if (found.length) $(found[0][0]).focus();
  };
  // These checks replace the browser's own (their messages are in the page's language).
  const takeOver = () => {
    const form = $("pay-form");
    if (form) form.noValidate = true;
  };
  takeOver();
  document.addEventListener("input", (event) => {
    if (event.target.id !== "cc") return;
    const digits = event.target.value.replace(/\D/g, "").slice(0, 19);
    event.target.value = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.id !== "pay-form") return;
    event.preventDefault();
    const found = problems(form);
    show(found);
    if (found.length) return;
    const button = $("pay");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const busy = (detail) => document.dispatchEvent(new CustomEvent("till:busy", { detail }));
    busy(true);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        redirect: "manual",
        credentials: "same-origin",
      });
      // A redirect means the payment went through: the session's page sends us on.
      if (response.type === "opaqueredirect") {
        location.assign(form.dataset.done);
        return;
      }
      const next = new DOMParser().parseFromString(await response.text(), "text/html");
      document.querySelector("main").replaceWith(next.querySelector("main"));
      document.title = next.title;
      takeOver();
      busy(false);
      document.dispatchEvent(new CustomEvent("till:page"));
      const alert = document.querySelector("[role=alert]");
      if (alert) alert.scrollIntoView({ block: "center" });
    } catch {
      form.submit();
    }
  });
})();
