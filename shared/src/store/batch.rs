//! Reads of any number of known keys in as few requests as DynamoDB allows: one
//! BatchGetItem per [`MAX_BATCH_GET_KEYS`] distinct keys, sent together. Also every
//! page of a query, and deletes of many items, a few at a time.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::{
    Delete, Item, Key, MAX_BATCH_GET_KEYS, Query, ReadBeside, Store, StoreError, StoreResult,
};

/// The items of `keys`, in their order, None where an item is missing. A key may be named
/// more than once (it is read once); no keys make no request. Like
/// [`Store::get_many`], each item is read on its own, not as one snapshot.
pub async fn get_each(store: &dyn Store, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
    let (distinct, at) = distinct(keys);
    let chunks = try_join_all(
        distinct
            .chunks(MAX_BATCH_GET_KEYS)
            .map(|chunk| store.get_many(chunk)),
    )
    .await?;
    Ok(spread(chunks.into_iter().flatten().collect(), &at))
}

/// [`get_each`] of `keys` in `store` and of `other_keys` in `other` (another service's
/// table) together, through [`Store::get_many_beside`]: one request per
/// [`MAX_BATCH_GET_KEYS`] distinct keys of both, sent together, where the backend can
/// name both tables in one request.
pub async fn get_each_beside(
    store: &dyn Store,
    keys: &[Key],
    other: &dyn Store,
    other_keys: &[Key],
) -> StoreResult<ReadBeside> {
    let (mine, my_at) = distinct(keys);
    let (theirs, their_at) = distinct(other_keys);
    // Chunks of the two lists one after the other: each holds the end of the first, the
    // start of the second, or one of them alone.
    let (m, all) = (mine.len(), mine.len() + theirs.len());
    let reads = (0..all).step_by(MAX_BATCH_GET_KEYS).map(|start| {
        let end = (start + MAX_BATCH_GET_KEYS).min(all);
        let here = &mine[start.min(m)..end.min(m)];
        let there = &theirs[start.max(m) - m..end.max(m) - m];
        store.get_many_beside(here, other, there)
    });
    let (mut found, mut found_other) = (Vec::new(), Vec::new());
    for (here, there) in try_join_all(reads).await? {
        found.extend(here);
        found_other.extend(there);
    }
    Ok((spread(found, &my_at), spread(found_other, &their_at)))
}

/// `keys` without repeats, and the position in it of each key of `keys`.
fn distinct(keys: &[Key]) -> (Vec<Key>, Vec<usize>) {
    let mut distinct: Vec<Key> = Vec::new();
    let mut slot: HashMap<&Key, usize> = HashMap::new();
    let at = keys
        .iter()
        .map(|k| {
            *slot.entry(k).or_insert_with(|| {
                distinct.push(k.clone());
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, at)
}

/// The items read for the distinct keys (`found`), answered at every position that
/// named them (`at`, from [`distinct`]).
fn spread(mut found: Vec<Option<Item>>, at: &[usize]) -> Vec<Option<Item>> {
    // Each item moves to the last position that names it; only repeats are copies.
    let mut last = vec![0; found.len()];
    for (pos, &i) in at.iter().enumerate() {
        last[i] = pos;
    }
    at.iter()
        .enumerate()
        .map(|(pos, &i)| {
            if last[i] == pos {
                found[i].take()
            } else {
                found[i].clone()
            }
        })
        .collect()
}

/// Every item `query` matches, page after page (for partitions bounded by design: a
/// person's sessions, devices or inbox, a tenant's pending invites).
pub async fn query_all(store: &dyn Store, query: Query) -> StoreResult<Vec<Item>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = store.query(query.clone().resume(start)).await?;
        items.extend(page.items);
        match page.next {
            Some(n) => start = Some(n),
            None => return Ok(items),
        }
    }
}

/// Runs `deletes`, 25 at a time side by side. A delete whose condition no longer holds
/// is skipped, not an error (the item is no longer what was to be deleted); the first
/// other failure stops the rest and is returned.
pub async fn delete_each(store: &dyn Store, deletes: Vec<Delete>) -> StoreResult<()> {
    for chunk in deletes.chunks(25) {
        let done = try_join_all(chunk.iter().map(|d| async move {
            match store.delete(d.clone()).await {
                Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }))
        .await;
        done?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Put, counting::CountingStore, memory::MemoryStore};

    fn key(sk: &str) -> Key {
        Key {
            pk: "T#t1#BATCH".into(),
            sk: sk.into(),
        }
    }

    async fn stored(n: usize) -> CountingStore<MemoryStore> {
        let store = CountingStore::new(MemoryStore::new());
        for i in 0..n {
            let item = Item::new(&key(&format!("{i:03}"))).with("i", i.to_string());
            store.put(Put::new(item)).await.expect("put");
        }
        store.reset();
        store
    }

    #[tokio::test]
    async fn answers_in_key_order_reading_a_repeated_key_once() {
        let store = stored(2).await;
        let keys = [key("001"), key("missing"), key("000"), key("001")];
        let got = get_each(&store, &keys).await.expect("get_each");
        let sks: Vec<Option<String>> = got
            .iter()
            .map(|i| i.as_ref().and_then(|i| i.key()).map(|k| k.sk))
            .collect();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(sks, [some("001"), None, some("000"), some("001")]);
        assert_eq!(store.snapshot().get_many, 1);
    }

    #[tokio::test]
    async fn reads_more_than_a_batch_in_batches_and_nothing_for_no_keys() {
        let store = stored(250).await;
        let keys: Vec<Key> = (0..250).map(|i| key(&format!("{i:03}"))).collect();
        let got = get_each(&store, &keys).await.expect("get_each");
        assert!(got.iter().enumerate().all(|(i, item)| {
            item.as_ref().and_then(|i| i.get_s("i")) == Some(i.to_string().as_str())
        }));
        assert_eq!(store.snapshot().get_many, 3);
        store.reset();
        assert!(get_each(&store, &[]).await.expect("no keys").is_empty());
        assert_eq!(store.snapshot().total(), 0);
    }

    #[tokio::test]
    async fn beside_another_table_chunks_both_lists_together_reading_repeats_once() {
        let store = stored(150).await;
        let other = CountingStore::new(MemoryStore::new());
        for i in 0..80 {
            let item = Item::new(&key(&format!("{i:03}"))).with("i", format!("other {i}"));
            other.put(Put::new(item)).await.expect("put");
        }
        other.reset();
        // 150 own keys and 80 of the other table (one named twice, one missing):
        // 231 distinct keys, 3 requests, each counted by the store asked.
        let keys: Vec<Key> = (0..150).map(|i| key(&format!("{i:03}"))).collect();
        let mut other_keys: Vec<Key> = (0..80).map(|i| key(&format!("{i:03}"))).collect();
        other_keys.push(key("079"));
        other_keys.push(key("missing"));
        let (mine, theirs) = get_each_beside(&store, &keys, &other, &other_keys)
            .await
            .expect("get_each_beside");
        let i_of =
            |item: &Option<Item>| item.as_ref().and_then(|i| i.get_s("i")).map(str::to_owned);
        assert!(
            mine.iter()
                .enumerate()
                .all(|(i, item)| i_of(item) == Some(i.to_string()))
        );
        assert_eq!(theirs.len(), 82);
        assert!(
            theirs[..80]
                .iter()
                .enumerate()
                .all(|(i, item)| i_of(item) == Some(format!("other {i}")))
        );
        assert_eq!(i_of(&theirs[80]), Some("other 79".into()));
        assert_eq!(theirs[81], None);
        assert_eq!(
            (store.snapshot().get_many, other.snapshot().total()),
            (3, 0)
        );
        // Nothing asked: no request.
        store.reset();
        let none = get_each_beside(&store, &[], &other, &[])
            .await
            .expect("none");
        assert_eq!(none, (vec![], vec![]));
        assert_eq!(store.snapshot().total(), 0);
        // The other table's keys alone.
        let (mine, theirs) = get_each_beside(&store, &[], &other, &[key("001")])
            .await
            .expect("other only");
        assert!(mine.is_empty() && i_of(&theirs[0]) == Some("other 1".into()));
    }

    #[tokio::test]
    async fn query_all_reads_every_page() {
        let store = stored(5).await;
        let query = Query::partition("T#t1#BATCH").limit(2);
        let items = query_all(&store, query).await.expect("query_all");
        let sks: Vec<String> = items.iter().filter_map(|i| i.key()).map(|k| k.sk).collect();
        assert_eq!(sks, ["000", "001", "002", "003", "004"]);
        assert_eq!(store.snapshot().query, 3, "three pages of two");
    }

    #[tokio::test]
    async fn delete_each_skips_a_delete_whose_condition_no_longer_holds() {
        let store = stored(30).await;
        let mut deletes: Vec<Delete> = (0..30)
            .map(|i| Delete::new(key(&format!("{i:03}"))))
            .collect();
        deletes[7] = Delete::new(key("007")).when(crate::store::Condition::eq("i", "not 7"));
        delete_each(&store, deletes).await.expect("delete_each");
        let left = query_all(&store, Query::partition("T#t1#BATCH"))
            .await
            .unwrap();
        let sks: Vec<String> = left.iter().filter_map(|i| i.key()).map(|k| k.sk).collect();
        assert_eq!(sks, ["007"]);
    }
}
