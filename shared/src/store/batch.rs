//! Reads of any number of known keys in as few requests as DynamoDB allows: one
//! BatchGetItem per [`MAX_BATCH_GET_KEYS`] distinct keys, sent together.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::{Item, Key, MAX_BATCH_GET_KEYS, Store, StoreResult};

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
    let found: Vec<Option<Item>> = chunks.into_iter().flatten().collect();
    Ok(at.into_iter().map(|i| found[i].clone()).collect())
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
}
