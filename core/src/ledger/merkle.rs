//! RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.
//!
//! `leaf = SHA-256(0x00 ‖ data)`, `node = SHA-256(0x01 ‖ left ‖ right)`, the empty tree is
//! `SHA-256("")`, and an n-leaf tree splits at the largest power of two below n.
//!
//! Storage-friendly: every hash a proof or a root needs is the hash of a *complete, aligned
//! subtree* ([`NodeId`]), which the appender stores once when it completes. Proof builders
//! take a getter for such nodes, so a stored log answers any proof with O(log n) reads
//! (call once with [`collect_nodes`] to learn which nodes to fetch, then again with them).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree aligned to its size: leaves `[index << level, (index + 1) << level)`.
/// Level 0 nodes are leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {first} is larger than tree size {second}")]
    SizesReversed { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("the proof does not reproduce the earlier root")]
    FirstRootMismatch,
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[a:b]) for a range that arises in RFC 6962's recursion (its start is aligned).
pub fn subtree_hash(a: u64, b: u64, get: &mut impl FnMut(NodeId) -> Hash) -> Hash {
    let n = b - a;
    if n.is_power_of_two() {
        let level = n.trailing_zeros() as u8;
        return get(NodeId {
            level,
            index: a >> level,
        });
    }
    let k = largest_power_of_two_below(n);
    let left = subtree_hash(a, a + k, get);
    let right = subtree_hash(a + k, b, get);
    node_hash(&left, &right)
}

/// The root of the first `size` leaves.
pub fn root(size: u64, get: &mut impl FnMut(NodeId) -> Hash) -> Hash {
    if size == 0 {
        empty_root()
    } else {
        subtree_hash(0, size, get)
    }
}

/// The audit path of leaf `index` in a tree of `size` leaves (RFC 6962 PATH), leaf-side first.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    get: &mut impl FnMut(NodeId) -> Hash,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(index, 0, size, get, &mut out);
    Ok(out)
}

fn path(m: u64, a: u64, b: u64, get: &mut impl FnMut(NodeId) -> Hash, out: &mut Vec<Hash>) {
    let n = b - a;
    if n <= 1 {
        return;
    }
    let k = largest_power_of_two_below(n);
    if m < a + k {
        path(m, a, a + k, get, out);
        out.push(subtree_hash(a + k, b, get));
    } else {
        path(m, a + k, b, get, out);
        out.push(subtree_hash(a, a + k, get));
    }
}

/// The consistency proof between tree sizes `first` and `second` (RFC 6962 PROOF).
pub fn consistency_proof(
    first: u64,
    second: u64,
    get: &mut impl FnMut(NodeId) -> Hash,
) -> Result<Vec<Hash>, ProofError> {
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    let mut out = Vec::new();
    if first > 0 && first < second {
        subproof(first, 0, second, true, get, &mut out);
    }
    Ok(out)
}

fn subproof(
    m: u64,
    a: u64,
    b: u64,
    complete: bool,
    get: &mut impl FnMut(NodeId) -> Hash,
    out: &mut Vec<Hash>,
) {
    let n = b - a;
    if m == n {
        if !complete {
            out.push(subtree_hash(a, b, get));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(m, a, a + k, complete, get, out);
        out.push(subtree_hash(a + k, b, get));
    } else {
        subproof(m - k, a + k, b, false, get, out);
        out.push(subtree_hash(a, a + k, get));
    }
}

/// Runs a proof or root builder with a getter that only records which nodes it asks for.
/// Hashes never steer the recursion, so the recorded set is exactly what the real run needs.
pub fn collect_nodes<T>(build: impl FnOnce(&mut dyn FnMut(NodeId) -> Hash) -> T) -> Vec<NodeId> {
    let mut ids = Vec::new();
    let mut get = |id: NodeId| {
        ids.push(id);
        [0u8; 32]
    };
    let _ = build(&mut get);
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A getter over fetched nodes; a missing node yields `None` through `missing`.
pub fn getter<'a>(
    nodes: &'a HashMap<NodeId, Hash>,
    missing: &'a mut Option<NodeId>,
) -> impl FnMut(NodeId) -> Hash + 'a {
    move |id| match nodes.get(&id) {
        Some(h) => *h,
        None => {
            missing.get_or_insert(id);
            [0u8; 32]
        }
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of `second` leaves with
/// `second_root` extends the tree of `first` leaves with `first_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if first == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The complete subtrees covering leaves `[0, size)`, largest (leftmost) first: one per set
/// bit of `size`. This is all an appender needs to continue the tree.
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) != 0 {
            ids.push(NodeId {
                level,
                index: start >> level,
            });
            start += 1u64 << level;
        }
    }
    ids
}

/// A growing tree kept as its frontier (O(log n) memory): the verifier folds a whole log
/// through it, and the appender learns which complete nodes each new leaf creates.
#[derive(Debug, Clone, Default)]
pub struct CompactTree {
    size: u64,
    frontier: Vec<(NodeId, Hash)>,
}

impl CompactTree {
    pub fn new() -> CompactTree {
        CompactTree::default()
    }

    /// Resumes from a stored frontier (the hashes of [`frontier_ids`]`(size)`, in order).
    pub fn from_frontier(size: u64, hashes: &[Hash]) -> Option<CompactTree> {
        let ids = frontier_ids(size);
        if ids.len() != hashes.len() {
            return None;
        }
        Some(CompactTree {
            size,
            frontier: ids.into_iter().zip(hashes.iter().copied()).collect(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier's hashes, largest subtree first (what [`Self::from_frontier`] takes).
    pub fn frontier_hashes(&self) -> impl Iterator<Item = &Hash> {
        self.frontier.iter().map(|(_, h)| h)
    }

    /// Appends a leaf hash; returns every complete node it created (the leaf first).
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut created = vec![(
            NodeId {
                level: 0,
                index: self.size,
            },
            leaf,
        )];
        self.frontier.push(created[0]);
        self.size += 1;
        while self.frontier.len() >= 2 {
            let n = self.frontier.len();
            let (right_id, right) = self.frontier[n - 1];
            let (left_id, left) = self.frontier[n - 2];
            if left_id.level != right_id.level {
                break;
            }
            let parent = (
                NodeId {
                    level: left_id.level + 1,
                    index: left_id.index >> 1,
                },
                node_hash(&left, &right),
            );
            self.frontier.truncate(n - 2);
            self.frontier.push(parent);
            created.push(parent);
        }
        created
    }

    /// Appends a leaf hash without reporting created nodes (the verifier's fast path).
    pub fn push_leaf(&mut self, leaf: Hash) {
        let mut level = 0u8;
        let mut hash = leaf;
        let index = self.size;
        self.size += 1;
        while let Some((top_id, top)) = self.frontier.last() {
            if top_id.level != level {
                break;
            }
            hash = node_hash(top, &hash);
            level += 1;
            self.frontier.pop();
        }
        self.frontier.push((
            NodeId {
                level,
                index: index >> level,
            },
            hash,
        ));
    }

    pub fn root(&self) -> Hash {
        let mut iter = self.frontier.iter().rev();
        let Some((_, last)) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, (_, h)| node_hash(h, &acc))
    }
}

#[cfg(test)]
mod tests {
    //! Known answers from the RFC 6962 reference data used by transparency-dev/merkle
    //! (`proof/verify_test.go`): eight leaves, the roots of every prefix, and proofs.
    use super::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|s| hex::decode(s).unwrap())
        .collect()
    }

    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// (leaf index, tree size, proof)
    fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (
                0,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                5,
                8,
                vec![
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                3,
                vec![h(
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                )],
            ),
            (
                1,
                5,
                vec![
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ]
    }

    /// (first size, second size, proof)
    fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ]
    }

    /// All complete nodes of the 8-leaf reference tree, as an appender stores them.
    fn stored_nodes() -> HashMap<NodeId, Hash> {
        let mut tree = CompactTree::new();
        let mut nodes = HashMap::new();
        for leaf in leaves() {
            for (id, hash) in tree.push(leaf_hash(&leaf)) {
                nodes.insert(id, hash);
            }
        }
        nodes
    }

    fn get(nodes: &HashMap<NodeId, Hash>) -> impl FnMut(NodeId) -> Hash + '_ {
        |id| nodes[&id]
    }

    #[test]
    fn empty_tree_root() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(CompactTree::new().root(), empty_root());
    }

    #[test]
    fn roots_of_every_prefix_match_the_reference() {
        let nodes = stored_nodes();
        let mut tree = CompactTree::new();
        for (i, leaf) in leaves().iter().enumerate() {
            tree.push_leaf(leaf_hash(leaf));
            let size = i as u64 + 1;
            assert_eq!(tree.root(), h(ROOTS[i]), "compact root at size {size}");
            assert_eq!(
                root(size, &mut get(&nodes)),
                h(ROOTS[i]),
                "stored root at {size}"
            );
            let resumed = CompactTree::from_frontier(
                size,
                &frontier_ids(size)
                    .iter()
                    .map(|id| nodes[id])
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            assert_eq!(resumed.root(), h(ROOTS[i]));
            let hashes: Vec<Hash> = tree.frontier_hashes().copied().collect();
            assert_eq!(
                CompactTree::from_frontier(size, &hashes).unwrap().root(),
                h(ROOTS[i])
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_and_verify() {
        let nodes = stored_nodes();
        let leaves = leaves();
        for (index, size, want) in inclusion_vectors() {
            let got = inclusion_proof(index, size, &mut get(&nodes)).unwrap();
            assert_eq!(got, want, "proof for leaf {index} in {size}");
            let leaf = leaf_hash(&leaves[index as usize]);
            let root = h(ROOTS[size as usize - 1]);
            verify_inclusion(index, size, &leaf, &got, &root).unwrap();
            // Corruptions are refused.
            assert!(verify_inclusion(index + 1, size, &leaf, &got, &root).is_err());
            assert!(verify_inclusion(index, size * 2, &leaf, &got, &root).is_err());
            assert!(verify_inclusion(index, size, &leaf_hash(b"x"), &got, &root).is_err());
            assert!(verify_inclusion(index, size, &leaf, &got, &empty_root()).is_err());
            let mut longer = got.clone();
            longer.push(root);
            assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
            if !got.is_empty() {
                assert!(
                    verify_inclusion(index, size, &leaf, &got[..got.len() - 1], &root).is_err()
                );
                for i in 0..got.len() {
                    let mut bad = got.clone();
                    bad[i][0] ^= 8;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
            }
        }
        // Every leaf of every size, built and verified.
        for size in 1..=8u64 {
            for index in 0..size {
                let p = inclusion_proof(index, size, &mut get(&nodes)).unwrap();
                let leaf = leaf_hash(&leaves[index as usize]);
                verify_inclusion(index, size, &leaf, &p, &h(ROOTS[size as usize - 1])).unwrap();
            }
        }
        assert!(inclusion_proof(8, 8, &mut get(&nodes)).is_err());
    }

    #[test]
    fn consistency_proofs_match_the_reference_and_verify() {
        let nodes = stored_nodes();
        for (first, second, want) in consistency_vectors() {
            let got = consistency_proof(first, second, &mut get(&nodes)).unwrap();
            assert_eq!(got, want, "proof {first} → {second}");
            let r1 = h(ROOTS[first as usize - 1]);
            let r2 = h(ROOTS[second as usize - 1]);
            verify_consistency(first, second, &r1, &r2, &got).unwrap();
            if !got.is_empty() {
                assert!(verify_consistency(first, second, &r2, &r1, &got).is_err());
                assert!(verify_consistency(first, second, &r1, &r2, &[]).is_err());
                assert!(
                    verify_consistency(first, second, &r1, &r2, &got[..got.len() - 1]).is_err()
                );
                let mut longer = got.clone();
                longer.push(r1);
                assert!(verify_consistency(first, second, &r1, &r2, &longer).is_err());
                for i in 0..got.len() {
                    let mut bad = got.clone();
                    bad[i][0] ^= 16;
                    assert!(verify_consistency(first, second, &r1, &r2, &bad).is_err());
                }
            }
        }
        for first in 1..=8u64 {
            for second in first..=8u64 {
                let p = consistency_proof(first, second, &mut get(&nodes)).unwrap();
                verify_consistency(
                    first,
                    second,
                    &h(ROOTS[first as usize - 1]),
                    &h(ROOTS[second as usize - 1]),
                    &p,
                )
                .unwrap();
            }
        }
        assert!(verify_consistency(0, 5, &empty_root(), &h(ROOTS[4]), &[]).is_ok());
        assert!(verify_consistency(3, 2, &h(ROOTS[2]), &h(ROOTS[1]), &[]).is_err());
    }

    #[test]
    fn collected_nodes_are_logarithmic_and_sufficient() {
        let nodes = stored_nodes();
        let ids = collect_nodes(|mut g| inclusion_proof(5, 7, &mut g));
        assert!(ids.len() <= 6, "{ids:?}");
        let fetched: HashMap<NodeId, Hash> = ids.iter().map(|id| (*id, nodes[id])).collect();
        let mut missing = None;
        let p = inclusion_proof(5, 7, &mut getter(&fetched, &mut missing)).unwrap();
        assert_eq!(missing, None);
        assert_eq!(p, inclusion_proof(5, 7, &mut get(&nodes)).unwrap());
    }
}
