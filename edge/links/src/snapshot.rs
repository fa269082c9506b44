//! The link behind a short code, as the visit reads it: this isolate's memory (10 s), else
//! the snapshot in KV (60 s), else D1, the source of truth (then cached, off the response
//! path). The main Worker writes a fresh snapshot whenever the link or its product
//! changes, so a changed link is read from KV, not D1, by the next visit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use till_shared::links::LinkRow;
use till_shared::locale::Text;
use worker::{Context, D1Database, Env, Result};

use crate::statement::{prepare, text};

/// How long a cached link snapshot may be served; nothing that takes money trusts it.
const SNAPSHOT_TTL: u64 = 60;
/// How long this isolate keeps a snapshot in memory (it is also forgotten on changes made
/// through this isolate).
const MEMORY_TTL: i64 = 10;
/// At most this many snapshots in memory; past it the memory starts over.
const MEMORY_ENTRIES: usize = 2_000;

/// A link as a visit reads it: the row, shared (a visit copies nothing of it), and whether
/// it can sell, decided once per read rather than once per visit.
#[derive(Clone)]
pub struct Snapshot {
    pub link: Rc<LinkRow>,
    /// Why the link cannot be paid now, if it cannot: the page's status and text
    /// (`till_shared::links` decides).
    pub unavailable: Option<(u16, Text)>,
}

impl Snapshot {
    fn of(link: LinkRow) -> Snapshot {
        let unavailable = link
            .state()
            .payability()
            .unavailable()
            .map(|reason| (reason.status(), reason.text()));
        Snapshot {
            link: Rc::new(link),
            unavailable,
        }
    }
}

thread_local! {
    static MEMORY: RefCell<HashMap<String, (Snapshot, i64)>> = RefCell::new(HashMap::new());
}

fn remember(code: &str, snapshot: &Snapshot) {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() >= MEMORY_ENTRIES {
            memory.clear();
        }
        let until = crate::now_unix() + MEMORY_TTL;
        memory.insert(code.to_owned(), (snapshot.clone(), until));
    });
}

fn recall(code: &str) -> Option<Snapshot> {
    let now = crate::now_unix();
    MEMORY.with(|memory| {
        memory
            .borrow()
            .get(code)
            .filter(|(_, until)| *until > now)
            .map(|(snapshot, _)| snapshot.clone())
    })
}

fn cache_key(code: &str) -> String {
    format!("link:{code}")
}

/// The link behind `code`: from memory, else KV, else D1 (then cached in both, the KV
/// write off the response path).
pub async fn read(env: &Env, ctx: &Context, code: &str) -> Result<Option<Snapshot>> {
    if let Some(snapshot) = recall(code) {
        return Ok(Some(snapshot));
    }
    let kv = env.kv(crate::CACHE)?;
    if let Ok(Some(text)) = kv.get(&cache_key(code)).text().await
        && let Ok(row) = serde_json::from_str::<LinkRow>(&text)
    {
        let snapshot = Snapshot::of(row);
        remember(code, &snapshot);
        return Ok(Some(snapshot));
    }
    let Some(row) = fresh(&env.d1(crate::DB)?, code).await? else {
        return Ok(None);
    };
    let text = serde_json::to_string(&row)?;
    let snapshot = Snapshot::of(row);
    remember(code, &snapshot);
    let key = cache_key(code);
    ctx.wait_until(async move {
        let _ = put(&kv, &key, text).await;
    });
    Ok(Some(snapshot))
}

async fn put(kv: &worker::kv::KvStore, key: &str, text: String) -> Result<()> {
    kv.put(key, text)
        .map_err(|e| worker::Error::RustError(e.to_string()))?
        .expiration_ttl(SNAPSHOT_TTL)
        .execute()
        .await
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

/// The link as D1 has it now.
pub async fn fresh(db: &D1Database, code: &str) -> Result<Option<LinkRow>> {
    prepare(
        db,
        "SELECT * FROM payment_links_view WHERE url_id = :code",
        &[("code", text(Some(code)))],
    )?
    .first(None)
    .await
}

/// After a change to the link behind `code` (or to its product): this isolate forgets it,
/// and KV gets the link as D1 has it now (or loses it, if D1 has none). Answers that row.
pub async fn refresh(env: &Env, code: &str) -> Option<LinkRow> {
    MEMORY.with(|memory| memory.borrow_mut().remove(code));
    let kv = env.kv(crate::CACHE).ok()?;
    let key = cache_key(code);
    let row = match env.d1(crate::DB) {
        Ok(db) => fresh(&db, code).await.ok().flatten(),
        Err(_) => None,
    };
    let stored = match row.as_ref().map(serde_json::to_string) {
        Some(Ok(text)) => put(&kv, &key, text).await.is_ok(),
        _ => false,
    };
    if !stored {
        // A snapshot that may be stale is never left behind.
        let _ = kv.delete(&key).await;
    }
    row
}

/// After a change to a product: the snapshots of its links (the first [`FAN_OUT`] of
/// them; any further ones expire within [`SNAPSHOT_TTL`]), written off the response path.
pub fn refresh_product(env: &Env, ctx: &Context, account_id: &str, product_id: &str) {
    MEMORY.with(|memory| memory.borrow_mut().clear());
    let (Ok(db), Ok(kv)) = (env.d1(crate::DB), env.kv(crate::CACHE)) else {
        return;
    };
    let statement = prepare(
        &db,
        "SELECT * FROM payment_links_view
         WHERE account_id = :account AND product_id = :product AND deleted = 0
         ORDER BY updated_at DESC LIMIT :limit",
        &[
            ("account", text(Some(account_id))),
            ("product", text(Some(product_id))),
            ("limit", crate::statement::integer(FAN_OUT)),
        ],
    );
    let Ok(statement) = statement else { return };
    ctx.wait_until(async move {
        let Ok(rows) = statement.all().await.and_then(|r| r.results::<LinkRow>()) else {
            return;
        };
        for row in rows {
            let key = cache_key(&row.url_id);
            let stored = match serde_json::to_string(&row) {
                Ok(text) => put(&kv, &key, text).await.is_ok(),
                Err(_) => false,
            };
            if !stored {
                let _ = kv.delete(&key).await;
            }
        }
    });
}

/// The most links of one product whose snapshots a change of the product rewrites.
const FAN_OUT: i64 = 100;
