// A React component using Till's buy button, type-checked against widget/loader/till.d.ts
// (`cargo xtask test` runs `tsc -p tests/types`). Lines marked @ts-expect-error must fail.
import { useEffect, useRef } from "react";
import type { TillBuyButtonElement, TillSuccessDetail } from "../../widget/loader/till";

export function ProductCard({ email, orderId }: { email: string; orderId: string }) {
  const button = useRef<TillBuyButtonElement>(null);
  useEffect(() => {
    const paid = (event: CustomEvent<TillSuccessDetail>) => console.log(event.detail.session_id);
    button.current?.addEventListener("till:success", paid);
    return () => button.current?.removeEventListener("till:success", paid as EventListener);
  }, []);
  return (
    <div>
      <till-buy-button
        ref={button}
        link="plink_7Hq2"
        text="Buy the ebook"
        theme="dark"
        locale="ja"
        email={email}
        client-reference-id={orderId}
        success-url="https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
        className="buy"
      />
      <till-buy-button product="prod_9x" publishable-key="pk_test_abc" float="right" margin="32px" mode="overlay" />
      {/* @ts-expect-error "purple" is not a theme */}
      <till-buy-button link="plink_7Hq2" theme="purple" />
      {/* @ts-expect-error floating sides are left and right */}
      <till-buy-button link="plink_7Hq2" float="top" />
    </div>
  );
}

const element: TillBuyButtonElement | null = document.querySelector("till-buy-button");
element?.addEventListener("till:error", (event) => {
  const code: string = event.detail.code;
  console.log(code, event.detail.message);
});
window.addEventListener("till:success", (event) => {
  const session: string = event.detail.session_id;
  const next: string | null = event.detail.url;
  if (next) event.preventDefault();
  console.log(session);
});
window.addEventListener("till:close", (event) => {
  const paid: string | null = event.detail.session_id;
  console.log(paid);
});
window.Till.open({ link: "plink_7Hq2", clientReferenceId: "order-42", theme: "auto" });
window.Till.close();
// @ts-expect-error options are spelled as documented
window.Till.open({ colour: "red" });
