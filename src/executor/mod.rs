//! The executor: runs plays over hosts in parallel (linear or free strategy).
