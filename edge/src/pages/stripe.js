// The card, collected by Stripe's own fields (Stripe.js): Till receives only the
// PaymentMethod id Stripe makes, never the number. On the bank's page (3-D Secure), Stripe.js
// shows the bank's check and the form tells Till to read the outcome from Stripe.
(() => {
  const form = document.getElementById("stripe-form");
  if (!form || typeof Stripe !== "function") return;
  const stripe = Stripe(form.dataset.key);
  const say = (text) => {
    const p = document.getElementById("stripe-error");
    p.textContent = text;
    p.hidden = !text;
  };
  const secret = form.dataset.secret;
  if (secret) {
    // The PaymentIntent was confirmed by Till; Stripe.js shows the bank's check it asks for.
    const next = stripe.handleNextAction
      ? stripe.handleNextAction({ clientSecret: secret })
      : stripe.confirmCardPayment(secret);
    next.then(() => form.submit(), () => form.submit());
    return;
  }
  const card = stripe.elements().create("card");
  card.mount("#stripe-card");
  form.addEventListener("submit", async (event) => {
    const method = document.getElementById("payment-method");
    if (method.value) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const { paymentMethod, error } = await stripe.createPaymentMethod({ type: "card", card });
    button.disabled = false;
    if (error || !paymentMethod) return say((error && error.message) || form.dataset.failed);
    method.value = paymentMethod.id;
    form.submit();
  });
})();
