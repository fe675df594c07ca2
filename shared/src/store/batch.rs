//! Reads of any number of known keys in as few requests as DynamoDB allows: one
//! BatchGetItem per [`MAX_BATCH_GET_KEYS`] distinct keys, sent together. Also every
//! page of a query, and deletes of many items, a few at a time.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::{Delete, Item, Key, MAX_BATCH_GET_KEYS, Query, Store, StoreError, StoreResult};

/// The items of `keys`, in their order, None where an item is missing. A key may be named
/// more than once (it is read once); no keys make no request. Like
/// [`Store::get_many`], each item is read on its own, not as one snapshot.
pub async fn get_each(store: &dyn Store, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
    let mut distinct: Vec<Key> = Vec::new();
    let mut slot: HashMap<&Key, usize> = HashMap::new();
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            *slot.entry(k).or_insert_with(|| {
                distinct.push(k.clone());
                distinct.len() - 1
            })
        })
        .collect();
    let chunks = try_join_all(
        distinct
            .chunks(MAX_BATCH_GET_KEYS)
            .map(|chunk| store.get_many(chunk)),
    )
    .await?;
    let mut found: Vec<Option<Item>> = chunks.into_iter().flatten().collect();
    // Each item moves to the last position that names it; only repeats are copies.
    let mut last = vec![0; found.len()];
    for (pos, &i) in at.iter().enumerate() {
        last[i] = pos;
    }
    Ok(at
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            if last[i] == pos {
                found[i].take()
            } else {
                found[i].clone()
            }
        })
        .collect())
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
