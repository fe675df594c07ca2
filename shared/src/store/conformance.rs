//! The Store conformance suite: one set of checks every backend must pass — the
//! memory store in its unit tests, the DynamoDB backend against moto (or any
//! `AWS_ENDPOINT_URL`). Each check works under its own random partition, so the
//! suite can run again and again against a shared table, and panics naming what
//! broke.
//!
//! It checks what DynamoDB itself does. Corners where emulators stray from DynamoDB
//! (ordering comparisons across types, `= NULL` on a missing attribute, transaction
//! validation errors) are memory-only unit tests instead.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use serde::{Deserialize, Serialize};

use super::{
    CancelReason, Condition, Delete, Index, Item, Key, Put, Query, QueryPage, SortKey, Store,
    StoreError, StoreResult, TransactOp, Update, Value, attr,
};

/// Runs every check, one after another.
pub async fn run_all(store: &dyn Store) {
    ping_succeeds(store).await;
    get_of_a_missing_item_is_none(store).await;
    get_many_answers_in_key_order_with_none_for_missing_items(store).await;
    get_many_reads_100_items_across_partitions(store).await;
    get_many_of_no_keys_too_many_or_a_key_twice_is_invalid(store).await;
    put_then_get_round_trips_every_value_type(store).await;
    records_round_trip_through_items(store).await;
    put_if_absent_refuses_an_existing_item(store).await;
    a_failed_condition_on_a_missing_item_carries_no_current_item(store).await;
    put_with_an_expected_version_replaces_only_that_version(store).await;
    live_at_holds_for_live_records_only(store).await;
    put_unless_live_overwrites_an_expired_record_only(store).await;
    update_sets_adds_and_removes_in_one_call(store).await;
    update_add_on_a_missing_attribute_starts_at_zero(store).await;
    update_set_if_absent_keeps_an_existing_value(store).await;
    update_with_a_failing_condition_changes_nothing(store).await;
    update_creates_a_missing_item(store).await;
    an_item_over_400_kb_is_invalid(store).await;
    update_of_a_key_attribute_is_invalid(store).await;
    update_add_on_a_non_number_is_invalid(store).await;
    concurrent_adds_are_never_lost(store).await;
    conditions_combine_with_and_or_not(store).await;
    ne_holds_on_a_missing_attribute_or_another_type(store).await;
    numbers_compare_numerically_and_strings_bytewise(store).await;
    exists_and_begins_with_test_attributes(store).await;
    conditional_delete_removes_only_when_the_condition_holds(store).await;
    delete_returns_the_old_item_or_none(store).await;
    query_returns_one_partition_in_sort_key_order(store).await;
    query_filters_by_every_sort_key_condition(store).await;
    query_pages_through_every_item_exactly_once(store).await;
    query_limit_of_zero_is_invalid(store).await;
    a_resume_key_from_another_partition_is_invalid(store).await;
    gsi1_holds_only_items_with_both_index_keys_in_index_order(store).await;
    gsi1_pages_forward_and_backward(store).await;
    query_page_says_more_only_when_an_item_follows(store).await;
    transaction_applies_every_action(store).await;
    transaction_with_a_failing_condition_changes_nothing(store).await;
    transaction_addressing_one_item_twice_is_invalid(store).await;
    transaction_of_zero_or_more_than_100_actions_is_invalid(store).await;
    transaction_of_100_puts_succeeds(store).await;
}

/// The checks of a read across two tables: `first` and `second` are two tables of one
/// backend (on DynamoDB, reached with one client).
pub async fn run_beside(first: &dyn Store, second: &dyn Store) {
    get_many_beside_reads_each_table_s_own_items(first, second).await;
    get_many_beside_one_table_reads_each_list(first).await;
    get_many_beside_of_no_keys_too_many_or_a_key_twice_is_invalid(first, second).await;
}

// Helpers.

/// A fresh partition: checks never see each other's items, nor a previous run's.
fn partition() -> String {
    format!("conf#{}", uuid::Uuid::new_v4())
}

fn key(pk: &str, sk: &str) -> Key {
    Key::global(pk, sk)
}

fn n(v: i64) -> Value {
    Value::from(v)
}

async fn put(store: &dyn Store, item: &Item) {
    let put = store.put(Put::new(item.clone())).await;
    put.unwrap_or_else(|e| panic!("put {:?}: {e}", item.key()));
}

async fn get(store: &dyn Store, key: &Key) -> Option<Item> {
    store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key:?}: {e}"))
}

/// Whether `c` holds on the stored `item`, by rewriting it unchanged under `c`.
async fn holds(store: &dyn Store, item: &Item, c: Condition) -> bool {
    match store.put(Put::new(item.clone()).when(c.clone())).await {
        Ok(()) => true,
        Err(StoreError::ConditionFailed { .. }) => false,
        Err(e) => panic!("condition {c:?}: unexpected error {e}"),
    }
}

/// The `current` item of a ConditionFailed; panics on any other outcome.
fn condition_failed<T: std::fmt::Debug>(r: StoreResult<T>, what: &str) -> Option<Item> {
    match r {
        Err(StoreError::ConditionFailed { current }) => current.map(|c| *c),
        other => panic!("{what}: expected ConditionFailed, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: StoreResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StoreError::Invalid(_))),
        "{what}: expected Invalid, got {r:?}"
    );
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.get_s(attr::SK).unwrap_or("<no sk>").to_owned())
        .collect()
}

async fn query_sks(store: &dyn Store, q: Query) -> Vec<String> {
    let page = store
        .query(q.clone())
        .await
        .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    assert_eq!(
        page.next, None,
        "{q:?}: an unlimited query returned a resume key"
    );
    sks(&page.items)
}

/// Every page of `q` at `size` items a page. DynamoDB may end with an empty page.
async fn pages(store: &dyn Store, q: Query, size: u32) -> Vec<Vec<String>> {
    let (mut pages, mut next) = (Vec::new(), None);
    loop {
        let page: QueryPage = store
            .query(q.clone().limit(size).resume(next))
            .await
            .expect("query");
        assert!(
            page.items.len() <= size as usize,
            "{q:?}: page over its limit"
        );
        pages.push(sks(&page.items));
        next = page.next;
        if next.is_none() {
            return pages;
        }
        assert!(pages.len() < 50, "{q:?}: paging never ends");
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Sets come back in any order: sorts them (recursively) so items compare.
fn sorted_sets(v: Value) -> Value {
    match v {
        Value::Ss(mut s) => {
            s.sort();
            Value::Ss(s)
        }
        Value::Ns(mut s) => {
            s.sort();
            Value::Ns(s)
        }
        Value::L(l) => Value::L(l.into_iter().map(sorted_sets).collect()),
        Value::M(m) => Value::M(m.into_iter().map(|(k, v)| (k, sorted_sets(v))).collect()),
        other => other,
    }
}

fn with_sorted_sets(item: Item) -> Item {
    Item(
        item.0
            .into_iter()
            .map(|(k, v)| (k, sorted_sets(v)))
            .collect(),
    )
}

/// Polls every future to completion, concurrently (the crate has no `futures`).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("polled to completion"))
        .collect()
}

// Items.

pub async fn ping_succeeds(store: &dyn Store) {
    store.ping().await.expect("ping");
}

pub async fn get_of_a_missing_item_is_none(store: &dyn Store) {
    assert_eq!(get(store, &key(&partition(), "nothing")).await, None);
}

pub async fn get_many_answers_in_key_order_with_none_for_missing_items(store: &dyn Store) {
    let (p, q) = (partition(), partition());
    let a = Item::new(&key(&p, "a")).with("n", n(1));
    let b = Item::new(&key(&q, "b")).with("s", "two");
    put(store, &a).await;
    put(store, &b).await;
    // The answer follows the keys' order, not the table's: b before a, a gap between.
    let keys = [key(&q, "b"), key(&p, "missing"), key(&p, "a")];
    let got = store.get_many(&keys).await.expect("get_many");
    assert_eq!(got, vec![Some(b), None, Some(a)]);
    // Written just before: the batch read is strongly consistent, like get.
    let fresh = Item::new(&key(&p, "fresh")).with("n", n(7));
    put(store, &fresh).await;
    let got = store.get_many(&[key(&p, "fresh")]).await.expect("get_many");
    assert_eq!(got, vec![Some(fresh)]);
}

pub async fn get_many_reads_100_items_across_partitions(store: &dyn Store) {
    let parts = [partition(), partition()];
    let keys: Vec<Key> = (0..100)
        .map(|i| key(&parts[i % 2], &format!("{i:03}")))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        put(store, &Item::new(k).with("i", n(i as i64))).await;
    }
    let got = store.get_many(&keys).await.expect("100 keys");
    assert_eq!(got.len(), 100);
    for (i, item) in got.iter().enumerate() {
        let item = item.as_ref().unwrap_or_else(|| panic!("item {i} missing"));
        assert_eq!(item.key().as_ref(), Some(&keys[i]));
        assert_eq!(item.0.get("i"), Some(&n(i as i64)));
    }
}

pub async fn get_many_of_no_keys_too_many_or_a_key_twice_is_invalid(store: &dyn Store) {
    let p = partition();
    assert_invalid(store.get_many(&[]).await, "no keys");
    let keys: Vec<Key> = (0..101).map(|i| key(&p, &format!("{i:03}"))).collect();
    assert_invalid(store.get_many(&keys).await, "101 keys");
    let twice = [key(&p, "a"), key(&p, "a")];
    assert_invalid(store.get_many(&twice).await, "a key twice");
}

pub async fn get_many_beside_reads_each_table_s_own_items(first: &dyn Store, second: &dyn Store) {
    let p = partition();
    // One key in both tables names two items.
    let mine = Item::new(&key(&p, "same")).with("table", "first");
    let theirs = Item::new(&key(&p, "same")).with("table", "second");
    let only_theirs = Item::new(&key(&p, "theirs")).with("n", n(2));
    put(first, &mine).await;
    put(second, &theirs).await;
    put(second, &only_theirs).await;
    let keys = [key(&p, "missing"), key(&p, "same")];
    let other_keys = [key(&p, "same"), key(&p, "theirs"), key(&p, "missing")];
    let got = first.get_many_beside(&keys, second, &other_keys).await;
    let (here, there) = got.expect("get_many_beside");
    assert_eq!(here, vec![None, Some(mine.clone())]);
    assert_eq!(there, vec![Some(theirs), Some(only_theirs.clone()), None]);
    // Either list may be empty: the other table's read alone, or this table's.
    let got = first
        .get_many_beside(&[], second, &[key(&p, "theirs")])
        .await;
    assert_eq!(got.expect("other only"), (vec![], vec![Some(only_theirs)]));
    let got = first.get_many_beside(&[key(&p, "same")], second, &[]).await;
    assert_eq!(got.expect("own only"), (vec![Some(mine)], vec![]));
    // Strongly consistent on both tables, like get_many.
    let fresh = Item::new(&key(&p, "fresh")).with("n", n(7));
    put(second, &fresh).await;
    let got = first
        .get_many_beside(&[], second, &[key(&p, "fresh")])
        .await;
    assert_eq!(got.expect("fresh").1, vec![Some(fresh)]);
}

pub async fn get_many_beside_one_table_reads_each_list(store: &dyn Store) {
    let p = partition();
    let a = Item::new(&key(&p, "a")).with("n", n(1));
    let b = Item::new(&key(&p, "b")).with("n", n(2));
    put(store, &a).await;
    put(store, &b).await;
    // Beside itself (a stage whose services share a table): a key in both lists is one
    // key of the request, answered in both.
    let got = store
        .get_many_beside(&[key(&p, "a"), key(&p, "b")], store, &[key(&p, "b")])
        .await;
    let (here, there) = got.expect("one table twice");
    assert_eq!(here, vec![Some(a), Some(b.clone())]);
    assert_eq!(there, vec![Some(b)]);
}

pub async fn get_many_beside_of_no_keys_too_many_or_a_key_twice_is_invalid(
    first: &dyn Store,
    second: &dyn Store,
) {
    let p = partition();
    assert_invalid(first.get_many_beside(&[], second, &[]).await, "no keys");
    let keys: Vec<Key> = (0..60).map(|i| key(&p, &format!("{i:03}"))).collect();
    assert_invalid(
        first.get_many_beside(&keys, second, &keys[..41]).await,
        "101 keys in all",
    );
    let fifty = first
        .get_many_beside(&keys[..50], second, &keys[..50])
        .await;
    assert_eq!(fifty.expect("100 keys in all").1.len(), 50);
    let twice = [key(&p, "a"), key(&p, "a")];
    assert_invalid(
        first.get_many_beside(&twice, second, &[]).await,
        "a key twice here",
    );
    assert_invalid(
        first.get_many_beside(&[], second, &twice).await,
        "a key twice there",
    );
}

pub async fn put_then_get_round_trips_every_value_type(store: &dyn Store) {
    let k = key(&partition(), "values");
    let map = |pairs: Vec<(&str, Value)>| {
        Value::M(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let item = Item::new(&k)
        .with("s", "text")
        .with("unicode", "héllo ✓ 日本")
        .with("int", n(-42))
        .with("decimal", Value::N("-12.5".into()))
        .with("zero", n(0))
        .with("past_f64", Value::N("9007199254740993".into()))
        .with(
            "digits_38",
            Value::N("12345678901234567890123456789012345678".into()),
        )
        .with("bytes", Value::B(vec![0, 1, 2, 254, 255]))
        .with("yes", true)
        .with("no", false)
        .with("null", Value::Null)
        .with(
            "list",
            Value::L(vec![
                Value::s("a"),
                n(1),
                Value::Bool(true),
                Value::L(vec![]),
            ]),
        )
        .with("empty_list", Value::L(vec![]))
        .with(
            "map",
            map(vec![
                ("inner", map(vec![("deep", n(7))])),
                ("s", Value::s("x")),
            ]),
        )
        .with("empty_map", map(vec![]))
        .with("ss", Value::Ss(strings(&["b", "a", "c"])))
        .with("ns", Value::Ns(strings(&["3", "-1.5", "10"])));
    put(store, &item).await;
    let got = get(store, &k).await.expect("the item just put");
    assert_eq!(with_sorted_sets(got), with_sorted_sets(item));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    count: i64,
    ratio: f64,
    active: bool,
    tags: Vec<String>,
    nested: Nested,
    note: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Nested {
    level: u32,
}

pub async fn records_round_trip_through_items(store: &dyn Store) {
    let k = key(&partition(), "record");
    let record = Record {
        name: "Ada".into(),
        count: -3,
        ratio: 0.25,
        active: true,
        tags: strings(&["x", "y"]),
        nested: Nested { level: 2 },
        note: None,
    };
    put(store, &Item::from_record(&k, &record).expect("to item")).await;
    let back: Record = get(store, &k)
        .await
        .expect("stored")
        .to_record()
        .expect("to record");
    assert_eq!(back, record);
}

// Conditional puts.

pub async fn put_if_absent_refuses_an_existing_item(store: &dyn Store) {
    let k = key(&partition(), "once");
    let first = Item::new(&k).with("v", "first");
    store
        .put(Put::new(first.clone()).when(Condition::item_absent()))
        .await
        .expect("first put");
    let second = Put::new(Item::new(&k).with("v", "second")).when(Condition::item_absent());
    let current = condition_failed(store.put(second).await, "second put if absent");
    assert_eq!(
        current,
        Some(first.clone()),
        "ConditionFailed carries the current item"
    );
    assert_eq!(get(store, &k).await, Some(first));
}

pub async fn a_failed_condition_on_a_missing_item_carries_no_current_item(store: &dyn Store) {
    let k = key(&partition(), "absent");
    let put = Put::new(Item::new(&k)).when(Condition::item_present());
    assert_eq!(
        condition_failed(store.put(put).await, "put if present"),
        None
    );
    assert_eq!(get(store, &k).await, None);
}

pub async fn put_with_an_expected_version_replaces_only_that_version(store: &dyn Store) {
    let k = key(&partition(), "versioned");
    put(store, &Item::new(&k).with("version", n(1))).await;
    let v2 = Item::new(&k).with("version", n(2));
    store
        .put(Put::new(v2.clone()).when(Condition::eq("version", n(1))))
        .await
        .expect("v1 -> v2");
    let stale = Put::new(Item::new(&k).with("version", n(2))).when(Condition::eq("version", n(1)));
    let current = condition_failed(store.put(stale).await, "stale version");
    assert_eq!(current, Some(v2.clone()));
    assert_eq!(get(store, &k).await, Some(v2));
}

/// Fixed epoch seconds, decades in the past: no real clock and, on AWS, older than
/// TTL's five-year window, so TTL never deletes these items mid-check.
const NOW: i64 = 1_000_000;

pub async fn live_at_holds_for_live_records_only(store: &dyn Store) {
    let p = partition();
    let live = Item::new(&key(&p, "live")).with(attr::EXPIRES_AT, NOW + 60);
    let forever = Item::new(&key(&p, "forever"));
    let expired = Item::new(&key(&p, "expired")).with(attr::EXPIRES_AT, NOW - 60);
    let at_now = Item::new(&key(&p, "at-now")).with(attr::EXPIRES_AT, NOW);
    for (item, live) in [
        (live, true),
        (forever, true),
        (expired, false),
        (at_now, false),
    ] {
        put(store, &item).await;
        assert_eq!(
            holds(store, &item, Condition::live_at(NOW)).await,
            live,
            "{item:?}"
        );
    }
}

pub async fn put_unless_live_overwrites_an_expired_record_only(store: &dyn Store) {
    let p = partition();
    let unless_live = || Condition::item_absent().or(Condition::live_at(NOW).not());
    let (expired, live) = (key(&p, "expired"), key(&p, "live"));
    put(store, &Item::new(&expired).with(attr::EXPIRES_AT, NOW - 1)).await;
    let fresh = Item::new(&expired).with(attr::EXPIRES_AT, NOW + 60);
    let overwrite = store.put(Put::new(fresh.clone()).when(unless_live())).await;
    overwrite.expect("overwrite of an expired record");
    assert_eq!(get(store, &expired).await, Some(fresh));

    let held = Item::new(&live).with(attr::EXPIRES_AT, NOW + 60);
    put(store, &held).await;
    let refused = store
        .put(Put::new(Item::new(&live)).when(unless_live()))
        .await;
    assert_eq!(
        condition_failed(refused, "overwrite of a live record"),
        Some(held)
    );

    let absent = key(&p, "absent");
    store
        .put(Put::new(Item::new(&absent)).when(unless_live()))
        .await
        .expect("put of a new record");
}

// Updates.

pub async fn update_sets_adds_and_removes_in_one_call(store: &dyn Store) {
    let k = key(&partition(), "updated");
    put(
        store,
        &Item::new(&k)
            .with("a", "old")
            .with("count", n(5))
            .with("gone", "x"),
    )
    .await;
    let update = Update::new(k.clone())
        .set("a", "new")
        .add("count", 3)
        .remove("gone");
    let new = store.update(update).await.expect("update");
    assert_eq!(new, Item::new(&k).with("a", "new").with("count", n(8)));
    assert_eq!(get(store, &k).await, Some(new));
}

pub async fn update_add_on_a_missing_attribute_starts_at_zero(store: &dyn Store) {
    let k = key(&partition(), "counter");
    put(store, &Item::new(&k)).await;
    let new = store
        .update(Update::new(k.clone()).add("n", -2))
        .await
        .expect("add");
    assert_eq!(new.get_i64("n"), Some(-2));
}

pub async fn update_set_if_absent_keeps_an_existing_value(store: &dyn Store) {
    let k = key(&partition(), "first-seen");
    put(store, &Item::new(&k).with("first", "kept")).await;
    let update = Update::new(k.clone())
        .set_if_absent("first", "ignored")
        .set_if_absent("other", "set");
    let new = store.update(update).await.expect("update");
    assert_eq!(new.get_s("first"), Some("kept"));
    assert_eq!(new.get_s("other"), Some("set"));
}

pub async fn update_with_a_failing_condition_changes_nothing(store: &dyn Store) {
    let k = key(&partition(), "guarded");
    let item = Item::new(&k).with("state", "open").with("n", n(1));
    put(store, &item).await;
    let update = Update::new(k.clone())
        .set("state", "closed")
        .add("n", 1)
        .when(Condition::eq("state", "closed"));
    let current = condition_failed(store.update(update).await, "update when closed");
    assert_eq!(current, Some(item.clone()));
    assert_eq!(get(store, &k).await, Some(item));
}

pub async fn update_creates_a_missing_item(store: &dyn Store) {
    let k = key(&partition(), "created");
    let new = store
        .update(Update::new(k.clone()).set("a", "x").add("n", 1))
        .await
        .expect("upsert");
    assert_eq!(new, Item::new(&k).with("a", "x").with("n", n(1)));
    assert_eq!(get(store, &k).await, Some(new));
}

/// DynamoDB refuses a put or an update that would leave an item over 400 KB (the memory
/// store too, so tests meet the limit where AWS would).
pub async fn an_item_over_400_kb_is_invalid(store: &dyn Store) {
    let k = key(&partition(), "big");
    let over = vec![0u8; super::MAX_ITEM_BYTES + 1];
    assert_invalid(
        store
            .put(Put::new(Item::new(&k).with("b", Value::B(over))))
            .await,
        "a put over 400 KB",
    );
    let half = vec![0u8; super::MAX_ITEM_BYTES / 2 + 16];
    put(store, &Item::new(&k).with("a", Value::B(half.clone()))).await;
    assert_invalid(
        store
            .update(Update::new(k.clone()).set("b", Value::B(half)))
            .await,
        "an update growing an item over 400 KB",
    );
    let kept = store.get(&k).await.unwrap().expect("the item stays");
    assert!(kept.get("b").is_none(), "nothing of the refused update");
}

pub async fn update_of_a_key_attribute_is_invalid(store: &dyn Store) {
    let k = key(&partition(), "keyed");
    put(store, &Item::new(&k)).await;
    for name in [attr::PK, attr::SK] {
        let r = store
            .update(Update::new(k.clone()).set(name, "other"))
            .await;
        assert_invalid(r, &format!("SET {name}"));
    }
    assert_eq!(get(store, &k).await, Some(Item::new(&k)));
}

pub async fn update_add_on_a_non_number_is_invalid(store: &dyn Store) {
    let k = key(&partition(), "text");
    let item = Item::new(&k).with("n", "not a number");
    put(store, &item).await;
    assert_invalid(
        store.update(Update::new(k.clone()).add("n", 1)).await,
        "ADD to a string",
    );
    assert_eq!(get(store, &k).await, Some(item));
}

pub async fn concurrent_adds_are_never_lost(store: &dyn Store) {
    let k = key(&partition(), "hits");
    let adds = (0..20)
        .map(|_| store.update(Update::new(k.clone()).add("n", 1)))
        .collect();
    for r in join_all(adds).await {
        r.expect("concurrent add");
    }
    assert_eq!(get(store, &k).await.and_then(|i| i.get_i64("n")), Some(20));
}

// Conditions.

/// Asserts each condition's outcome on one stored item.
async fn assert_conditions(store: &dyn Store, item: &Item, cases: Vec<(Condition, bool)>) {
    for (c, expected) in cases {
        assert_eq!(
            holds(store, item, c.clone()).await,
            expected,
            "{c:?} on {item:?}"
        );
    }
}

pub async fn conditions_combine_with_and_or_not(store: &dyn Store) {
    let item = Item::new(&key(&partition(), "logic"))
        .with("a", n(1))
        .with("b", "x");
    put(store, &item).await;
    let (t, f) = (|| Condition::eq("a", n(1)), || Condition::eq("b", "y"));
    let cases = vec![
        (t().and(Condition::eq("b", "x")), true),
        (t().and(f()), false),
        (f().or(t()), true),
        (f().or(Condition::exists("missing")), false),
        (f().not(), true),
        (t().not(), false),
        (t().and(f().or(Condition::not_exists("missing"))), true),
        (t().and(f()).not().and(Condition::item_present()), true),
    ];
    assert_conditions(store, &item, cases).await;
}

pub async fn ne_holds_on_a_missing_attribute_or_another_type(store: &dyn Store) {
    let item = Item::new(&key(&partition(), "ne")).with("n", n(9));
    put(store, &item).await;
    let cases = vec![
        (Condition::ne("missing", n(1)), true),
        (Condition::ne("n", "9"), true),
        (Condition::ne("n", n(8)), true),
        (Condition::ne("n", n(9)), false),
        (Condition::eq("n", "9"), false),
        (Condition::eq("missing", n(1)), false),
    ];
    assert_conditions(store, &item, cases).await;
}

pub async fn numbers_compare_numerically_and_strings_bytewise(store: &dyn Store) {
    let item = Item::new(&key(&partition(), "order"))
        .with("n", n(9))
        .with("neg", Value::N("-12.5".into()))
        .with("s", "9");
    put(store, &item).await;
    let cases = vec![
        (Condition::lt("n", n(10)), true),
        (Condition::ge("n", n(10)), false),
        (Condition::le("n", n(9)), true),
        (Condition::gt("n", n(9)), false),
        (Condition::ge("n", n(9)), true),
        (Condition::gt("n", n(-100)), true),
        (Condition::lt("neg", n(-12)), true),
        (Condition::gt("neg", Value::N("-12.6".into())), true),
        (Condition::gt("s", "10"), true),
        (Condition::lt("s", "10"), false),
        (Condition::lt("missing", n(10)), false),
        (Condition::ge("missing", n(10)), false),
    ];
    assert_conditions(store, &item, cases).await;
}

pub async fn exists_and_begins_with_test_attributes(store: &dyn Store) {
    let item = Item::new(&key(&partition(), "funcs"))
        .with("s", "abc")
        .with("n", n(1))
        .with("nul", Value::Null);
    put(store, &item).await;
    let cases = vec![
        (Condition::exists("s"), true),
        (Condition::exists("nul"), true),
        (Condition::exists("missing"), false),
        (Condition::not_exists("missing"), true),
        (Condition::not_exists("s"), false),
        (Condition::begins_with("s", "ab"), true),
        (Condition::begins_with("s", "abc"), true),
        (Condition::begins_with("s", "b"), false),
        (Condition::begins_with("missing", "a"), false),
        (Condition::item_present(), true),
        (Condition::item_absent(), false),
    ];
    assert_conditions(store, &item, cases).await;
}

// Deletes.

pub async fn conditional_delete_removes_only_when_the_condition_holds(store: &dyn Store) {
    let k = key(&partition(), "token");
    let item = Item::new(&k).with("used", false);
    put(store, &item).await;
    let refused = store
        .delete(Delete::new(k.clone()).when(Condition::eq("used", true)))
        .await;
    assert_eq!(
        condition_failed(refused, "delete when used"),
        Some(item.clone())
    );
    assert_eq!(get(store, &k).await, Some(item.clone()));
    let old = store
        .delete(Delete::new(k.clone()).when(Condition::eq("used", false)))
        .await;
    assert_eq!(old.expect("delete when unused"), Some(item));
    assert_eq!(get(store, &k).await, None);
    let gone = store
        .delete(Delete::new(k.clone()).when(Condition::item_present()))
        .await;
    assert_eq!(condition_failed(gone, "delete of a deleted item"), None);
}

pub async fn delete_returns_the_old_item_or_none(store: &dyn Store) {
    let k = key(&partition(), "doomed");
    let item = Item::new(&k).with("v", n(1));
    put(store, &item).await;
    assert_eq!(
        store.delete(Delete::new(k.clone())).await.expect("delete"),
        Some(item)
    );
    assert_eq!(
        store
            .delete(Delete::new(k.clone()))
            .await
            .expect("delete again"),
        None
    );
}

// Queries on the table.

const SKS: [&str; 5] = ["a#1", "a#2", "b#1", "b#2", "c#1"];

/// `SKS` in a fresh partition, beside neighbours that must never show up: another
/// partition, and one whose pk extends this one's.
async fn seed_partition(store: &dyn Store) -> String {
    let p = partition();
    for sk in SKS.iter().rev() {
        put(store, &Item::new(&key(&p, sk))).await;
    }
    put(store, &Item::new(&key(&format!("{p}x"), "a#0"))).await;
    put(store, &Item::new(&key(&partition(), "a#1"))).await;
    p
}

pub async fn query_returns_one_partition_in_sort_key_order(store: &dyn Store) {
    let p = seed_partition(store).await;
    let all = strings(&SKS);
    assert_eq!(
        query_sks(store, Query::partition(&p).consistent()).await,
        all
    );
    let backward: Vec<String> = all.iter().rev().cloned().collect();
    assert_eq!(
        query_sks(store, Query::partition(&p).consistent().backward()).await,
        backward
    );
    let page = store
        .query(Query::partition(&p).consistent())
        .await
        .expect("query");
    assert!(
        page.items
            .iter()
            .all(|i| i.get_s(attr::PK) == Some(p.as_str()))
    );
}

pub async fn query_filters_by_every_sort_key_condition(store: &dyn Store) {
    let p = seed_partition(store).await;
    let s = |v: &str| v.to_owned();
    let cases = [
        (SortKey::Eq(s("b#1")), vec!["b#1"]),
        (SortKey::Lt(s("b#1")), vec!["a#1", "a#2"]),
        (SortKey::Le(s("b#1")), vec!["a#1", "a#2", "b#1"]),
        (SortKey::Gt(s("b#1")), vec!["b#2", "c#1"]),
        (SortKey::Ge(s("b#1")), vec!["b#1", "b#2", "c#1"]),
        (
            SortKey::Between(s("a#2"), s("b#2")),
            vec!["a#2", "b#1", "b#2"],
        ),
        (SortKey::BeginsWith(s("b#")), vec!["b#1", "b#2"]),
        (SortKey::Eq(s("b")), vec![]),
    ];
    for (c, want) in cases {
        let q = Query::partition(&p).consistent().sk(c.clone());
        assert_eq!(query_sks(store, q.clone()).await, strings(&want), "{c:?}");
        let backward: Vec<&str> = want.iter().rev().copied().collect();
        assert_eq!(
            query_sks(store, q.backward()).await,
            strings(&backward),
            "{c:?} backward"
        );
    }
}

pub async fn query_pages_through_every_item_exactly_once(store: &dyn Store) {
    let p = seed_partition(store).await;
    for forward in [true, false] {
        let mut q = Query::partition(&p).consistent();
        q.forward = forward;
        let pages = pages(store, q, 2).await;
        let mut want = strings(&SKS);
        if !forward {
            want.reverse();
        }
        assert_eq!(pages.concat(), want, "forward: {forward}");
        assert_eq!(
            pages[0].len(),
            2,
            "forward: {forward}: a first page is full"
        );
        let filtered = pages.iter().filter(|p| !p.is_empty()).count();
        assert_eq!(
            filtered, 3,
            "forward: {forward}: 5 items in pages of 2: {pages:?}"
        );
    }
}

pub async fn query_limit_of_zero_is_invalid(store: &dyn Store) {
    assert_invalid(
        store.query(Query::partition(partition()).limit(0)).await,
        "limit 0",
    );
}

pub async fn a_resume_key_from_another_partition_is_invalid(store: &dyn Store) {
    let p = seed_partition(store).await;
    let first = store
        .query(Query::partition(&p).consistent().limit(2))
        .await
        .unwrap();
    let resume = first.next.expect("a first page of 2 of 5 has a resume key");
    assert_invalid(
        store
            .query(
                Query::partition(partition())
                    .consistent()
                    .resume(Some(resume)),
            )
            .await,
        "a resume key of another partition",
    );
}

// Queries on gsi1.

/// Four indexed items (across two table partitions) in index order, plus items the
/// sparse index leaves out. Returns the index partition.
async fn seed_gsi1(store: &dyn Store) -> String {
    let (p, other) = (partition(), partition());
    let g = format!("{p}#g");
    let indexed = |pk: &str, sk: &str, gsk: &str| {
        Item::new(&key(pk, sk))
            .with(attr::GSI1PK, g.as_str())
            .with(attr::GSI1SK, gsk)
    };
    for item in [
        indexed(&p, "i1", "2024-03"),
        indexed(&p, "i2", "2024-01"),
        indexed(&other, "i3", "2024-02"),
        indexed(&p, "i4", "2023-12"),
        Item::new(&key(&p, "pk-only")).with(attr::GSI1PK, g.as_str()),
        Item::new(&key(&p, "sk-only")).with(attr::GSI1SK, "2024-01"),
        Item::new(&key(&p, "elsewhere"))
            .with(attr::GSI1PK, format!("{g}x"))
            .with(attr::GSI1SK, "2024-01"),
    ] {
        put(store, &item).await;
    }
    g
}

const GSI_ORDER: [&str; 4] = ["i4", "i2", "i3", "i1"];

pub async fn gsi1_holds_only_items_with_both_index_keys_in_index_order(store: &dyn Store) {
    let g = seed_gsi1(store).await;
    let q = Query::partition(&g).on(Index::Gsi1);
    assert_eq!(query_sks(store, q.clone()).await, strings(&GSI_ORDER));
    let backward: Vec<&str> = GSI_ORDER.iter().rev().copied().collect();
    assert_eq!(
        query_sks(store, q.clone().backward()).await,
        strings(&backward)
    );
    let in_2024 = q.sk(SortKey::BeginsWith("2024".into()));
    assert_eq!(query_sks(store, in_2024).await, strings(&GSI_ORDER[1..]));
}

pub async fn gsi1_pages_forward_and_backward(store: &dyn Store) {
    let g = seed_gsi1(store).await;
    for forward in [true, false] {
        let mut q = Query::partition(&g).on(Index::Gsi1);
        q.forward = forward;
        let mut want = strings(&GSI_ORDER);
        if !forward {
            want.reverse();
        }
        assert_eq!(
            pages(store, q.clone(), 2).await.concat(),
            want,
            "forward: {forward}, by 2"
        );
        assert_eq!(
            pages(store, q, 3).await.concat(),
            want,
            "forward: {forward}, by 3"
        );
    }
}

/// `query_page`, on the table and the index: a page that ends exactly at the last item
/// has no resume key, on either backend (DynamoDB answers one from the raw query).
pub async fn query_page_says_more_only_when_an_item_follows(store: &dyn Store) {
    let p = seed_partition(store).await;
    let g = seed_gsi1(store).await;
    for (q, all) in [
        (Query::partition(&p).consistent(), strings(&SKS)),
        (Query::partition(&g).on(Index::Gsi1), strings(&GSI_ORDER)),
    ] {
        let n = all.len() as u32;
        let whole = super::query_page(store, q.clone(), n).await.unwrap();
        assert_eq!(
            (sks(&whole.items), whole.next),
            (all.clone(), None),
            "{q:?}"
        );
        let first = super::query_page(store, q.clone(), n - 1).await.unwrap();
        assert_eq!(sks(&first.items), all[..all.len() - 1], "{q:?}");
        let rest = super::query_page(store, q.clone().resume(first.next), n)
            .await
            .unwrap();
        assert_eq!(
            (sks(&rest.items), rest.next),
            (all[all.len() - 1..].to_vec(), None),
            "{q:?}"
        );
    }
}

// Transactions.

pub async fn transaction_applies_every_action(store: &dyn Store) {
    let p = partition();
    let (fresh, counted, doomed, checked) = (
        key(&p, "put"),
        key(&p, "update"),
        key(&p, "delete"),
        key(&p, "check"),
    );
    let checked_item = Item::new(&checked).with("v", n(1));
    put(store, &Item::new(&counted).with("n", n(1))).await;
    put(store, &Item::new(&doomed)).await;
    put(store, &checked_item).await;
    let ops = vec![
        TransactOp::Put(Put::new(Item::new(&fresh).with("v", n(1))).when(Condition::item_absent())),
        TransactOp::Update(
            Update::new(counted.clone())
                .add("n", 2)
                .when(Condition::eq("n", n(1))),
        ),
        TransactOp::Delete(Delete::new(doomed.clone()).when(Condition::item_present())),
        TransactOp::Check {
            key: checked.clone(),
            condition: Condition::eq("v", n(1)),
        },
    ];
    store.transact(ops).await.expect("transaction");
    assert_eq!(
        get(store, &fresh).await,
        Some(Item::new(&fresh).with("v", n(1)))
    );
    assert_eq!(
        get(store, &counted).await.and_then(|i| i.get_i64("n")),
        Some(3)
    );
    assert_eq!(get(store, &doomed).await, None);
    assert_eq!(get(store, &checked).await, Some(checked_item));
}

pub async fn transaction_with_a_failing_condition_changes_nothing(store: &dyn Store) {
    let p = partition();
    let (fresh, counted, doomed) = (key(&p, "put"), key(&p, "update"), key(&p, "delete"));
    let (counted_item, doomed_item) = (Item::new(&counted).with("n", n(1)), Item::new(&doomed));
    put(store, &counted_item).await;
    put(store, &doomed_item).await;
    let ops = vec![
        TransactOp::Put(Put::new(Item::new(&fresh)).when(Condition::item_absent())),
        TransactOp::Update(
            Update::new(counted.clone())
                .add("n", 1)
                .when(Condition::eq("n", n(99))),
        ),
        TransactOp::Delete(Delete::new(doomed.clone())),
    ];
    match store.transact(ops).await {
        Err(StoreError::TransactionCanceled { reasons }) => assert_eq!(
            reasons,
            [
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::None
            ]
        ),
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert_eq!(get(store, &fresh).await, None);
    assert_eq!(get(store, &counted).await, Some(counted_item));
    assert_eq!(get(store, &doomed).await, Some(doomed_item));
}

pub async fn transaction_addressing_one_item_twice_is_invalid(store: &dyn Store) {
    let k = key(&partition(), "twice");
    let ops = vec![
        TransactOp::Put(Put::new(Item::new(&k))),
        TransactOp::Update(Update::new(k.clone()).add("n", 1)),
    ];
    assert_invalid(store.transact(ops).await, "two actions on one item");
    assert_eq!(get(store, &k).await, None);
}

pub async fn transaction_of_zero_or_more_than_100_actions_is_invalid(store: &dyn Store) {
    assert_invalid(store.transact(vec![]).await, "no actions");
    let p = partition();
    let ops = (0..101).map(|i| TransactOp::Put(Put::new(Item::new(&key(&p, &format!("{i:03}"))))));
    assert_invalid(store.transact(ops.collect()).await, "101 actions");
    assert_eq!(
        query_sks(store, Query::partition(&p).consistent()).await,
        Vec::<String>::new()
    );
}

pub async fn transaction_of_100_puts_succeeds(store: &dyn Store) {
    let p = partition();
    let sks: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
    let ops = sks
        .iter()
        .map(|sk| TransactOp::Put(Put::new(Item::new(&key(&p, sk)))));
    store.transact(ops.collect()).await.expect("100 puts");
    assert_eq!(
        query_sks(store, Query::partition(&p).consistent()).await,
        sks
    );
}
