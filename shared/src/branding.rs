//! An account's branding: the display name, logo and accent colour its checkout pages,
//! receipts and buy buttons show. Checked here; stored on the account.

use serde_json::Value;

/// The longest display name.
pub const MAX_NAME_CHARS: usize = 80;
/// The longest logo URL.
pub const MAX_LOGO_URL_CHARS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    pub display_name: Option<String>,
    pub logo_url: Option<String>,
    /// `#rrggbb`, lower case.
    pub accent_color: Option<String>,
}

/// A refused field (`branding.logo_url`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandingError(pub &'static str, pub &'static str);

impl Branding {
    /// `branding` of a PATCH: an object whose fields replace all three (a field left out or
    /// `null` is cleared), or `null` to clear them all.
    pub fn read(value: &Value) -> Result<Branding, BrandingError> {
        let object = match value {
            Value::Null => return Ok(Branding::default()),
            Value::Object(object) => object,
            _ => return Err(BrandingError("branding", "`branding` is an object.")),
        };
        for key in object.keys() {
            if !matches!(key.as_str(), "display_name" | "logo_url" | "accent_color") {
                return Err(BrandingError(
                    "branding",
                    "`branding` has display_name, logo_url and accent_color only.",
                ));
            }
        }
        let text = |field: &'static str, name: &'static str| match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(_) => Err(BrandingError(field, "Must be a string or null.")),
        };
        let display_name = text("branding.display_name", "display_name")?;
        if let Some(name) = &display_name
            && (name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control))
        {
            return Err(BrandingError(
                "branding.display_name",
                "A display name is 1 to 80 characters, without control characters.",
            ));
        }
        let logo_url = text("branding.logo_url", "logo_url")?
            .map(|url| check_logo(&url))
            .transpose()?;
        let accent_color = text("branding.accent_color", "accent_color")?
            .map(|color| {
                color_of(&color).ok_or(BrandingError(
                    "branding.accent_color",
                    "An accent colour is #rgb or #rrggbb.",
                ))
            })
            .transpose()?;
        Ok(Branding {
            display_name,
            logo_url,
            accent_color,
        })
    }
}

fn check_logo(text: &str) -> Result<String, BrandingError> {
    let refused = BrandingError(
        "branding.logo_url",
        "A logo URL is an https URL of at most 500 characters.",
    );
    let url = url::Url::parse(text).map_err(|_| refused.clone())?;
    // The length is the stored URL's (normalised, percent-encoded), as the database checks.
    if url.as_str().chars().count() > MAX_LOGO_URL_CHARS
        || url.scheme() != "https"
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(refused);
    }
    Ok(url.to_string())
}

/// `#rgb` or `#rrggbb` (either case) as `#rrggbb` in lower case.
pub fn color_of(text: &str) -> Option<String> {
    let hex = text.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let full = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_owned(),
        _ => return None,
    };
    Some(format!("#{}", full.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn branding_is_checked_and_normalised() {
        let read = Branding::read(&json!({
            "display_name": " Field Notes Co. ",
            "logo_url": "https://cdn.example.com/logo.png",
            "accent_color": "#0A7",
        }))
        .unwrap();
        assert_eq!(read.display_name.as_deref(), Some("Field Notes Co."));
        assert_eq!(read.accent_color.as_deref(), Some("#00aa77"));
        assert_eq!(Branding::read(&Value::Null).unwrap(), Branding::default());
    }

    #[test]
    fn bad_branding_names_its_field() {
        let field = |value: Value| Branding::read(&value).unwrap_err().0;
        assert_eq!(
            field(json!({"logo_url": "http://example.com/a.png"})),
            "branding.logo_url"
        );
        assert_eq!(
            field(json!({"logo_url": "javascript:alert(1)"})),
            "branding.logo_url"
        );
        assert_eq!(
            field(json!({"logo_url": "https://:pw@cdn.example.com/a.png"})),
            "branding.logo_url"
        );
        // Short as typed, too long once percent-encoded as stored.
        let long = format!("https://cdn.example.com/{}", "é".repeat(200));
        assert_eq!(field(json!({ "logo_url": long })), "branding.logo_url");
        assert_eq!(
            field(json!({"accent_color": "red"})),
            "branding.accent_color"
        );
        assert_eq!(
            field(json!({"accent_color": "#12345"})),
            "branding.accent_color"
        );
        assert_eq!(field(json!({"display_name": ""})), "branding.display_name");
        assert_eq!(field(json!({"colour": "#fff"})), "branding");
        assert_eq!(field(json!("blue")), "branding");
    }
}
