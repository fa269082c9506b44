//! Statements written with named parameters and bound by name: `Sql::new("… WHERE id =
//! :id").bind("id", id)`. D1 takes only positional parameters; `till_shared::sql` numbers
//! the names, and a name left unbound or bound but unused is an error before the
//! statement reaches D1.

use till_shared::sql::{Numbered, number};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::db::{Bind, Principal, Seller};
use crate::error::{ApiError, ApiResult};

/// A statement and the values bound to its names so far.
pub struct Sql {
    numbered: Result<Numbered, String>,
    values: Vec<Option<JsValue>>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        let numbered = number(text).map_err(|e| format!("{e}: {text}"));
        let count = numbered.as_ref().map_or(0, |n| n.names.len());
        Sql {
            numbered,
            values: vec![None; count],
        }
    }

    /// Binds `value` to `:name`.
    pub fn bind(mut self, name: &str, value: impl Bind) -> Sql {
        if let Ok(numbered) = &self.numbered {
            match numbered.position(name) {
                Some(at) => self.values[at - 1] = Some(value.js()),
                None => self.numbered = Err(format!(":{name} is not in the statement")),
            }
        }
        self
    }

    /// Binds `:account` and `:environment`: the scope every row of the caller's lives in.
    pub fn scoped(self, principal: &Principal) -> Sql {
        self.bind("account", principal.account_id.as_str())
            .bind("environment", principal.environment.as_str())
    }

    /// Binds `:account` and `:environment` to `seller`'s.
    pub fn selling(self, seller: Seller<'_>) -> Sql {
        self.bind("account", seller.account_id)
            .bind("environment", seller.environment.as_str())
    }

    /// The statement, ready for D1 or a batch.
    pub fn prepare(self, db: &D1Database) -> ApiResult<D1PreparedStatement> {
        let numbered = self.numbered.map_err(ApiError::internal)?;
        let values = self
            .values
            .into_iter()
            .zip(&numbered.names)
            .map(|(value, name)| {
                value.ok_or_else(|| ApiError::internal(format!(":{name} unbound")))
            })
            .collect::<ApiResult<Vec<JsValue>>>()?;
        Ok(db.prepare(numbered.text).bind(&values)?)
    }
}
