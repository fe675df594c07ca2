//! Versioned templates. One partition per template (`T#<t>#TPL#<id>`): a head item
//! (`~HEAD`: the latest version's summary, the archive flag, and the gsi1 keys that list
//! the tenant's templates by name) and one immutable item per version (`V#<version:06>`).
//! A save writes the new version and moves the head in one transaction, conditional on
//! the head still being at the version the writer read (optimistic concurrency).
//!
//! The head sorts after every version (`~` after `V`), so the last two items of the
//! partition are the head and the latest version: reading a template is one query.

use std::collections::BTreeMap;

use shared::{
    store::{
        CancelReason, Condition, Index, Key, Put, Query, ResumeKey, SortKey, Store, StoreError,
        TransactOp, Update, attr,
    },
    tenant::TenantId,
};

use super::{item, record};
use crate::{
    domain::template::{TemplateSummary, TemplateVersion},
    error::{NotifyError, NotifyResult},
};

/// Sorts after every `V#…` (see the module's comment).
const HEAD: &str = "~HEAD";

fn head_key(t: &TenantId, id: &str) -> Key {
    super::template(t, id, HEAD)
}

fn version_key(t: &TenantId, id: &str, version: i64) -> Key {
    super::template(t, id, &format!("V#{version:06}"))
}

/// The gsi1 sort key: names sort and match prefixes without regard to case.
fn by_name(summary: &TemplateSummary) -> String {
    format!("{}#{}", summary.name.to_lowercase(), summary.id)
}

/// A template id in its stored form (a lowercase hyphenated UUID), or None for anything
/// that cannot be one — which then simply is not found.
pub fn canonical_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The head (latest version's summary) of template `id`, archived or not.
pub async fn head(
    store: &dyn Store,
    t: &TenantId,
    id: &str,
) -> NotifyResult<Option<TemplateSummary>> {
    let Some(id) = canonical_id(id) else {
        return Ok(None);
    };
    match store.get(&head_key(t, &id)).await? {
        Some(i) => Ok(Some(record(&i, "template head")?)),
        None => Ok(None),
    }
}

/// Version `version` of template `id` (the latest when None); None when the template
/// (or that version) does not exist in tenant `t`. Archived templates are still found
/// (deliveries keep pointing at them); `get_active` refuses them.
///
/// One request: the latest is the partition's last two items (one query), a given
/// version is read with the head (one batch read). A save committing meanwhile can show
/// in one item and not yet the other: then the version the head names is read again.
pub async fn get(
    store: &dyn Store,
    t: &TenantId,
    id: &str,
    version: Option<i64>,
) -> NotifyResult<Option<TemplateVersion>> {
    let Some(id) = canonical_id(id) else {
        return Ok(None);
    };
    let (head, found) = match version {
        Some(v) if v < 1 => return Ok(None),
        Some(v) => {
            let mut items = store
                .get_many(&[head_key(t, &id), version_key(t, &id, v)])
                .await?
                .into_iter();
            (items.next().flatten(), items.next().flatten())
        }
        None => {
            let last_two = Query::partition(head_key(t, &id).pk)
                .backward()
                .limit(2)
                .consistent();
            let mut items = store.query(last_two).await?.items.into_iter();
            match items.next() {
                Some(i) if i.key().is_some_and(|k| k.sk == HEAD) => (Some(i), items.next()),
                _ => (None, None),
            }
        }
    };
    let Some(head) = head else {
        return Ok(None);
    };
    let head: TemplateSummary = record(&head, "template head")?;
    let wanted = version.unwrap_or(head.version);
    if !(1..=head.version).contains(&wanted) {
        return Ok(None);
    }
    let found = found
        .map(|i| record::<TemplateVersion>(&i, "template version"))
        .transpose()?
        .filter(|v| v.version == wanted);
    match found {
        Some(v) => Ok(Some(with_archive(v, &head))),
        None => version_of(store, t, &head, wanted).await,
    }
}

/// Version `version` of the template `head` sums up, with the head's archive flag; None
/// when it is missing.
pub async fn version_of(
    store: &dyn Store,
    t: &TenantId,
    head: &TemplateSummary,
    version: i64,
) -> NotifyResult<Option<TemplateVersion>> {
    let Some(i) = store.get(&version_key(t, &head.id, version)).await? else {
        return Ok(None);
    };
    let v: TemplateVersion = record(&i, "template version")?;
    Ok(Some(with_archive(v, head)))
}

/// Versions are immutable; the archive flag lives on the head.
fn with_archive(mut v: TemplateVersion, head: &TemplateSummary) -> TemplateVersion {
    v.archived = head.archived;
    v.archived_at.clone_from(&head.archived_at);
    v
}

/// The latest version of a template a send may use: TEMPLATE_NOT_FOUND when it does not
/// exist in tenant `t`, TEMPLATE_ARCHIVED when it is archived.
pub async fn get_active(
    store: &dyn Store,
    t: &TenantId,
    id: &str,
) -> NotifyResult<TemplateVersion> {
    match get(store, t, id, None).await? {
        Some(v) if v.archived => Err(NotifyError::TemplateArchived { id: v.id }),
        Some(v) => Ok(v),
        None => Err(NotifyError::TemplateNotFound),
    }
}

fn head_item(t: &TenantId, v: &TemplateVersion) -> NotifyResult<shared::store::Item> {
    let summary = TemplateSummary::of(v);
    let mut head = item(&head_key(t, &v.id), &summary, "template head")?;
    head.set(attr::GSI1PK, super::templates_index(t));
    head.set(attr::GSI1SK, by_name(&summary));
    Ok(head)
}

/// Stores version 1 of a new template.
pub async fn create(store: &dyn Store, t: &TenantId, v: &TemplateVersion) -> NotifyResult<()> {
    let ops = vec![
        TransactOp::Put(Put::new(head_item(t, v)?).when(Condition::item_absent())),
        TransactOp::Put(
            Put::new(item(
                &version_key(t, &v.id, v.version),
                v,
                "template version",
            )?)
            .when(Condition::item_absent()),
        ),
    ];
    store.transact(ops).await?;
    Ok(())
}

/// Stores `next` (version N+1) if the template is still at version N = `next.version - 1`
/// and not archived. VERSION_CONFLICT names the current version otherwise; an archived
/// template answers `Ok(false)`.
pub async fn save_version(
    store: &dyn Store,
    t: &TenantId,
    next: &TemplateVersion,
) -> NotifyResult<bool> {
    let read = next.version - 1;
    let unchanged = Condition::eq("version", read).and(Condition::eq("archived", false));
    let ops = vec![
        TransactOp::Put(Put::new(head_item(t, next)?).when(unchanged)),
        TransactOp::Put(
            Put::new(item(
                &version_key(t, &next.id, next.version),
                next,
                "template version",
            )?)
            .when(Condition::item_absent()),
        ),
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(e @ StoreError::TransactionCanceled { .. }) => {
            // Another save (or the archive) won: say which from the head as it is now.
            match head(store, t, &next.id).await? {
                None => Err(NotifyError::TemplateNotFound),
                Some(h) if h.archived => Ok(false),
                Some(h) if h.version != read => {
                    Err(NotifyError::VersionConflict { current: h.version })
                }
                Some(_) => Err(transient(e)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A transaction cancelled by a concurrent one (not by our conditions): retry later.
fn transient(e: StoreError) -> NotifyError {
    match e {
        StoreError::TransactionCanceled { reasons }
            if reasons.contains(&CancelReason::ConditionFailed) =>
        {
            NotifyError::Internal(format!("template save refused: {reasons:?}"))
        }
        e => StoreError::Unavailable(e.to_string()).into(),
    }
}

/// Archives template `id` (idempotent: the first archive time stays). None when the
/// template does not exist.
pub async fn archive(
    store: &dyn Store,
    t: &TenantId,
    id: &str,
    now: &str,
) -> NotifyResult<Option<TemplateSummary>> {
    let Some(id) = canonical_id(id) else {
        return Ok(None);
    };
    let update = Update::new(head_key(t, &id))
        .set("archived", true)
        .set_if_absent("archivedAt", now)
        .when(Condition::item_present());
    match store.update(update).await {
        Ok(i) => Ok(Some(record(&i, "template head")?)),
        Err(e) if e.is_condition_failed() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where a gsi1 query resumes after `s`: its table key plus its index key.
fn resume_after(t: &TenantId, s: &TemplateSummary) -> ResumeKey {
    let key = head_key(t, &s.id);
    ResumeKey(BTreeMap::from([
        (attr::PK.to_owned(), key.pk),
        (attr::SK.to_owned(), key.sk),
        (attr::GSI1PK.to_owned(), super::templates_index(t)),
        (attr::GSI1SK.to_owned(), by_name(s)),
    ]))
}

/// Templates a filtered page reads at most before it ends (short, with a cursor).
pub const MAX_SCANNED: usize = 1_000;

/// Up to `limit` of the tenant's templates whose name starts with `name_prefix` (any
/// case) and that `keep` accepts, by name, and where the next page starts. DynamoDB
/// applies `Limit` before filters, so this reads on until the page is full.
pub async fn list(
    store: &dyn Store,
    t: &TenantId,
    name_prefix: &str,
    limit: u32,
    mut start: Option<ResumeKey>,
    keep: impl Fn(&TemplateSummary) -> bool,
) -> NotifyResult<(Vec<TemplateSummary>, Option<ResumeKey>)> {
    let (mut out, mut scanned) = (Vec::new(), 0usize);
    loop {
        let mut q = Query::partition(super::templates_index(t))
            .on(Index::Gsi1)
            .limit(100)
            .resume(start.take());
        if !name_prefix.is_empty() {
            q = q.sk(SortKey::BeginsWith(name_prefix.to_lowercase()));
        }
        let page = store.query(q).await?;
        for i in &page.items {
            let s: TemplateSummary = record(i, "template head")?;
            scanned += 1;
            if !keep(&s) {
                if scanned >= MAX_SCANNED {
                    // A rare filter over many templates: a short page and a cursor.
                    return Ok((out, Some(resume_after(t, &s))));
                }
                continue;
            }
            if out.len() == limit as usize {
                // A further match exists: the page ends after the last one kept.
                let last = out.last().map(|s| resume_after(t, s));
                return Ok((out, last));
            }
            out.push(s);
        }
        match page.next {
            Some(n) => start = Some(n),
            None => return Ok((out, None)),
        }
    }
}
