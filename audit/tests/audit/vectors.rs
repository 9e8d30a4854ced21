//! Known answers from the Certificate Transparency reference implementations (the C++
//! `MerkleTree` tests, carried over to Go in `transparency-dev/merkle`, `proof/verify_test.go`):
//! eight fixed leaves, the root after each, and some inclusion and consistency paths. A log no
//! other implementation agrees with proves nothing to anyone.

use std::collections::HashMap;

use audit::{
    Frontier, Hash, NodeId, consistency_plan, empty_root, inclusion_plan, leaf_hash, reference,
    verify_consistency, verify_inclusion,
};

const LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// Root after 0..=8 leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, path); the reference numbers leaves from 1, these from 0.
const INCLUSION: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, path).
const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn h(hex: &str) -> Hash {
    Hash::from_hex(hex).unwrap()
}

fn hashes(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|x| h(x)).collect()
}

fn tree() -> (Vec<Hash>, HashMap<NodeId, Hash>, Vec<Hash>) {
    let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(l)).collect();
    let mut f = Frontier::new();
    let mut stored = HashMap::new();
    let mut roots = vec![f.root()];
    for leaf in &leaves {
        stored.extend(f.push(*leaf).unwrap());
        roots.push(f.root());
    }
    (leaves, stored, roots)
}

#[test]
fn empty_root_is_the_published_one() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    assert_eq!(Frontier::new().root(), h(ROOTS[0]));
}

#[test]
fn roots_after_each_leaf_are_the_published_ones() {
    let (leaves, _, roots) = tree();
    for n in 0..=8 {
        assert_eq!(roots[n], h(ROOTS[n]), "size {n}");
        assert_eq!(reference::root_of(&leaves[..n]), h(ROOTS[n]), "size {n}");
    }
}

#[test]
fn inclusion_paths_are_the_published_ones() {
    let (leaves, stored, _) = tree();
    for (index, size, path) in INCLUSION {
        let expected = hashes(path);
        let got = inclusion_plan(index, size)
            .unwrap()
            .assemble(&stored)
            .unwrap();
        assert_eq!(got, expected, "leaf {index} of {size}");
        let root = h(ROOTS[size as usize]);
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, size, &expected, &root),
            Ok(())
        );
    }
}

#[test]
fn consistency_paths_are_the_published_ones() {
    let (_, stored, _) = tree();
    for (old, new, path) in CONSISTENCY {
        let expected = hashes(path);
        let got = consistency_plan(old, new)
            .unwrap()
            .assemble(&stored)
            .unwrap();
        assert_eq!(got, expected, "{old} -> {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        assert_eq!(
            verify_consistency(old, new, &old_root, &new_root, &expected),
            Ok(())
        );
    }
}
