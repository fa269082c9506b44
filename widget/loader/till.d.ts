// Types for Till's buy button loader (`<script src="https://till.example/till.js">`).
// Copy this file next to your code (or reference it) to type the custom element, its
// events and `window.Till`, including `<till-buy-button>` in React/Preact TSX.

export type TillTheme = "light" | "dark" | "auto";
export type TillMode = "overlay" | "redirect";
export type TillLocale = "en" | "zh-TW" | "zh-CN" | "ja" | "th" | "auto";

/** What opens: a payment link, or a product with a publishable key. Plus how it looks. */
export interface TillOptions {
  /** A payment link's id (`url_id`) or its full URL. */
  link?: string;
  /** A product id; needs `key`. */
  product?: string;
  /** A publishable key (`pk_test_…` / `pk_live_…`), for `product`. */
  key?: string;
  /** The button's text (default "Buy now"). */
  text?: string;
  /** Any CSS colour for the button. */
  color?: string;
  theme?: TillTheme;
  /** The checkout page's language. */
  locale?: TillLocale;
  /** Prefills the shopper's email on the checkout page. */
  email?: string;
  /** Prefills the shopper's name. */
  name?: string;
  /** Your own reference (an order or user id), stored on the checkout session. */
  clientReferenceId?: string;
  /** Where to go after paying, instead of the link's success URL; `{CHECKOUT_SESSION_ID}` is filled in. */
  successUrl?: string;
  /** `overlay` (default) or `redirect` (go to the checkout page). */
  mode?: TillMode;
}

/** The attributes of `<till-buy-button>` (the same options, in kebab-case). */
export interface TillBuyButtonAttributes {
  link?: string;
  product?: string;
  /** A publishable key for `product` (`key` works in plain HTML; React keeps `key` to itself). */
  "publishable-key"?: string;
  text?: string;
  color?: string;
  theme?: TillTheme;
  locale?: TillLocale;
  email?: string;
  name?: string;
  "client-reference-id"?: string;
  "success-url"?: string;
  mode?: TillMode;
  /** A floating button in this bottom corner. */
  float?: "left" | "right";
  /** The floating button's distance from the edges, a CSS length (default "24px"). */
  margin?: string;
}

export interface TillSuccessDetail {
  session_id: string;
  /** The success URL the page will go to (unless a listener calls `preventDefault()`), or null. */
  url: string | null;
}
export interface TillErrorDetail {
  /** `link_inactive`, `link_not_found`, `sold_out`, `session_expired`, `too_many_attempts`, `processing_error`. */
  code: string;
  message: string;
}
export interface TillCloseDetail {
  /** The paid session, when the shopper closes the overlay after paying. */
  session_id: string | null;
}

export interface TillEventMap {
  "till:success": CustomEvent<TillSuccessDetail>;
  "till:error": CustomEvent<TillErrorDetail>;
  "till:close": CustomEvent<TillCloseDetail>;
}

export interface Till {
  /** Opens checkout in the overlay (or navigates, with `mode: "redirect"` or when the overlay cannot open). */
  open(options: TillOptions): void;
  /** Closes the overlay, unless a payment is being confirmed. */
  close(): void;
}

export interface TillBuyButtonElement extends HTMLElement {
  addEventListener<K extends keyof TillEventMap>(
    type: K,
    listener: (this: TillBuyButtonElement, event: TillEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

declare global {
  interface Window {
    Till: Till;
  }
  interface WindowEventMap extends TillEventMap {}
  interface HTMLElementTagNameMap {
    "till-buy-button": TillBuyButtonElement;
  }
  // React 17/18 and Preact read the global JSX namespace.
  namespace JSX {
    interface IntrinsicElements {
      "till-buy-button": TillBuyButtonAttributes & {
        class?: string;
        className?: string;
        id?: string;
        style?: unknown;
        ref?: unknown;
        key?: string | number;
        children?: unknown;
      };
    }
  }
}

// React 19 reads JSX from the "react" module.
declare module "react" {
  namespace JSX {
    interface IntrinsicElements {
      "till-buy-button": TillBuyButtonAttributes &
        React.DetailedHTMLProps<React.HTMLAttributes<TillBuyButtonElement>, TillBuyButtonElement>;
    }
  }
}
