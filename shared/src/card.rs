//! Card checks made before any processor sees a card (Luhn, expiry, CVC length), and the
//! sandbox processor's test cards: the numbers developers already know from Stripe's test
//! mode. Card numbers and CVCs never leave this module's callers except as brand, last4,
//! expiry and a token.

/// A card brand, from the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Jcb,
    Unknown,
}

impl Brand {
    pub fn of(number: &str) -> Brand {
        let prefix = |len: usize| {
            number
                .get(..len)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        match () {
            _ if number.starts_with('4') => Brand::Visa,
            _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => {
                Brand::Mastercard
            }
            _ if matches!(prefix(2), 34 | 37) => Brand::Amex,
            _ if (3528..=3589).contains(&prefix(4)) => Brand::Jcb,
            _ => Brand::Unknown,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Jcb => "jcb",
            Brand::Unknown => "unknown",
        }
    }

    const fn cvc_len(self) -> usize {
        match self {
            Brand::Amex => 4,
            _ => 3,
        }
    }
}

/// Why a card was refused before reaching the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardError {
    InvalidNumber,
    InvalidExpiry,
    Expired,
    InvalidCvc,
}

impl CardError {
    /// The stable code, also the key of the localized message.
    pub const fn code(self) -> &'static str {
        match self {
            CardError::InvalidNumber => "invalid_number",
            CardError::InvalidExpiry => "invalid_expiry",
            CardError::Expired => "expired_card",
            CardError::InvalidCvc => "invalid_cvc",
        }
    }
}

/// A card that passed the checks: what may be kept of it, and the number for the
/// processor call only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCard {
    pub number: String,
    pub brand: Brand,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// The Luhn checksum over digits.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 12 || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Reads `MM / YY`, `MM/YYYY`, `MMYY`.
pub fn parse_expiry(text: &str) -> Option<(u32, u32)> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (month, year) = match digits.len() {
        4 => (&digits[..2], &digits[2..]),
        6 => (&digits[..2], &digits[2..]),
        3 if text.contains('/') => (&digits[..1], &digits[1..]),
        5 if text.contains('/') => (&digits[..1], &digits[1..]),
        _ => return None,
    };
    let month: u32 = month.parse().ok()?;
    let mut year: u32 = year.parse().ok()?;
    if year < 100 {
        year += 2000;
    }
    (1..=12).contains(&month).then_some((month, year))
}

/// Checks a card as typed (spaces and dashes allowed) against today's year and month.
pub fn check_card(
    number: &str,
    expiry: &str,
    cvc: &str,
    today: (u32, u32),
) -> Result<CheckedCard, CardError> {
    let number: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !luhn_valid(&number) {
        return Err(CardError::InvalidNumber);
    }
    // What is typed wrong (number, CVC) before what the card's dates decide.
    let brand = Brand::of(&number);
    let cvc = cvc.trim();
    if cvc.len() != brand.cvc_len() || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::InvalidCvc);
    }
    let (exp_month, exp_year) = parse_expiry(expiry).ok_or(CardError::InvalidExpiry)?;
    if (exp_year, exp_month) < (today.1, today.0) {
        return Err(CardError::Expired);
    }
    if exp_year > today.1 + 20 {
        return Err(CardError::InvalidExpiry);
    }
    Ok(CheckedCard {
        last4: number[number.len() - 4..].to_owned(),
        number,
        brand,
        exp_month,
        exp_year,
    })
}

/// What the sandbox processor does with a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxOutcome {
    Succeed,
    Decline(&'static str),
    /// A 3-D Secure challenge the shopper completes or fails.
    Challenge,
}

/// The documented test cards with a three-digit CVC, as the OpenAPI document lists them for
/// `POST /v1/payment_methods` (the American Express one, 378282246310005, takes four).
pub const TEST_CARD_NUMBERS: &[&str] = &[
    "4242424242424242",
    "5555555555554444",
    "3566002020360505",
    "2223003122003222",
    "4000000000000002",
    "4000000000009995",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4000002500003155",
    REFUND_FAILS,
];

/// The test card whose charges succeed and whose refunds fail, as in Stripe's test mode.
pub const REFUND_FAILS: &str = "4000000000005126";

/// The documented test cards; any other valid card number is declined, so a real card
/// typed into a sandbox checkout never "succeeds".
pub fn sandbox_outcome(number: &str) -> SandboxOutcome {
    match number {
        "4242424242424242" | "5555555555554444" | "3566002020360505" | "378282246310005"
        | "2223003122003222" | REFUND_FAILS => SandboxOutcome::Succeed,
        "4000000000000002" => SandboxOutcome::Decline("card_declined"),
        "4000000000009995" => SandboxOutcome::Decline("insufficient_funds"),
        "4000000000000069" => SandboxOutcome::Decline("expired_card"),
        "4000000000000127" => SandboxOutcome::Decline("incorrect_cvc"),
        "4000000000000119" => SandboxOutcome::Decline("processing_error"),
        "4000002500003155" => SandboxOutcome::Challenge,
        _ => SandboxOutcome::Decline("card_declined"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (u32, u32) = (11, 2026);

    #[test]
    fn the_listed_test_cards_pass_luhn_and_take_three_digits() {
        for number in TEST_CARD_NUMBERS {
            assert!(luhn_valid(number), "{number}");
            assert_eq!(Brand::of(number).cvc_len(), 3, "{number}");
        }
    }

    #[test]
    fn every_documented_test_card_passes_luhn() {
        for number in [
            "4242424242424242",
            "5555555555554444",
            "3566002020360505",
            "378282246310005",
            "4000000000000002",
            "4000000000009995",
            "4000000000000069",
            "4000000000000127",
            "4000002500003155",
            "4000000000000119",
        ] {
            assert!(luhn_valid(number), "{number}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("42424242"));
        assert!(!luhn_valid("4242a24242424242"));
    }

    #[test]
    fn brands_follow_the_prefix() {
        assert_eq!(Brand::of("4242424242424242"), Brand::Visa);
        assert_eq!(Brand::of("5555555555554444"), Brand::Mastercard);
        assert_eq!(Brand::of("2223003122003222"), Brand::Mastercard);
        assert_eq!(Brand::of("378282246310005"), Brand::Amex);
        assert_eq!(Brand::of("3566002020360505"), Brand::Jcb);
    }

    #[test]
    fn cards_are_checked_before_the_processor() {
        let card = check_card("4242 4242 4242 4242", "12 / 34", "123", TODAY).unwrap();
        assert_eq!(
            (
                card.last4.as_str(),
                card.exp_month,
                card.exp_year,
                card.brand
            ),
            ("4242", 12, 2034, Brand::Visa)
        );
        assert_eq!(
            check_card("4242 4242 4242 4241", "12/34", "123", TODAY),
            Err(CardError::InvalidNumber)
        );
        assert_eq!(
            check_card("4242424242424242", "10/26", "123", TODAY),
            Err(CardError::Expired)
        );
        assert!(
            check_card("4242424242424242", "11/26", "123", TODAY).is_ok(),
            "valid through the end of its month"
        );
        assert_eq!(
            check_card("4242424242424242", "13/30", "123", TODAY),
            Err(CardError::InvalidExpiry)
        );
        assert_eq!(
            check_card("4242424242424242", "12/34", "12", TODAY),
            Err(CardError::InvalidCvc)
        );
        assert_eq!(
            check_card("378282246310005", "12/34", "123", TODAY),
            Err(CardError::InvalidCvc)
        );
        assert!(check_card("378282246310005", "12/34", "1234", TODAY).is_ok());
    }

    #[test]
    fn sandbox_outcomes_match_the_documented_cards() {
        assert_eq!(sandbox_outcome("4242424242424242"), SandboxOutcome::Succeed);
        assert_eq!(
            sandbox_outcome("4000000000000002"),
            SandboxOutcome::Decline("card_declined")
        );
        assert_eq!(
            sandbox_outcome("4000000000009995"),
            SandboxOutcome::Decline("insufficient_funds")
        );
        assert_eq!(
            sandbox_outcome("4000002500003155"),
            SandboxOutcome::Challenge
        );
        assert_eq!(
            sandbox_outcome("4111111111111111"),
            SandboxOutcome::Decline("card_declined")
        );
    }
}
