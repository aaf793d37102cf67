//! Random numbers: Python's `random.Random` (Mersenne Twister, same seeding), so that
//! `{{ 59 | random(seed=inventory_hostname) }}` gives the same minute as Ansible.

use super::*;

/// Python's `random.Random`.
pub struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    fn init_genrand(s: u32) -> PyRandom {
        let mut mt = [0u32; 624];
        mt[0] = s;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        PyRandom { mt, index: 624 }
    }

    fn init_by_array(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::init_genrand(19_650_218);
        let mt = &mut r.mt;
        let n = 624usize;
        let (mut i, mut j) = (1usize, 0usize);
        let len = key.len().max(1);
        for _ in 0..n.max(len) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(*key.get(j).unwrap_or(&0))
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..n - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        r
    }

    /// Seeds from a big-endian magnitude, like `random.seed(int)`.
    fn from_be_bytes(bytes: &[u8]) -> PyRandom {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut key = Vec::new();
        let mut end = trimmed.len();
        while end > 0 {
            let start = end.saturating_sub(4);
            let mut w = 0u32;
            for b in &trimmed[start..end] {
                w = (w << 8) | *b as u32;
            }
            key.push(w);
            end = start;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::init_by_array(&key)
    }

    /// `random.Random(seed)` for a string or an integer seed.
    pub fn from_seed(seed: &Value) -> PyRandom {
        use sha2::Digest;
        if let Some(i) = as_i128(seed) {
            return PyRandom::from_be_bytes(&i.unsigned_abs().to_be_bytes());
        }
        if let Some(f) = as_f64(seed).filter(|f| f.fract() == 0.0 && f.abs() < 1e30) {
            return PyRandom::from_be_bytes(&(f.abs() as u128).to_be_bytes());
        }
        let mut bytes = py_str(seed).into_bytes();
        let digest = sha2::Sha512::digest(&bytes);
        bytes.extend_from_slice(&digest);
        PyRandom::from_be_bytes(&bytes)
    }

    /// Seeded from the operating system (`SystemRandom` in Ansible).
    pub fn from_entropy() -> PyRandom {
        let mut buf = [0u8; 32];
        let ok = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
            .is_ok();
        if !ok {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            buf[..16].copy_from_slice(&t.as_nanos().to_be_bytes());
            buf[16..24].copy_from_slice(&(std::process::id() as u64).to_be_bytes());
        }
        PyRandom::from_be_bytes(&buf)
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    pub(crate) fn getrandbits(&mut self, k: u32) -> u128 {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return (self.next_u32() >> (32 - k)) as u128;
        }
        let mut out: u128 = 0;
        let mut left = k;
        let mut shift = 0;
        while left > 0 {
            let mut r = self.next_u32();
            if left < 32 {
                r >>= 32 - left;
            }
            out |= (r as u128) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        out
    }

    /// `_randbelow(n)`: uniform in `[0, n)`.
    pub fn randbelow(&mut self, n: u128) -> u128 {
        if n == 0 {
            return 0;
        }
        let k = 128 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)`.
    pub fn randrange(&mut self, start: i128, stop: i128, step: i128) -> Result<i128, Error> {
        let width = stop - start;
        if step == 1 {
            if width > 0 {
                return Ok(start + self.randbelow(width as u128) as i128);
            }
            return Err(fail(format!("empty range in randrange({start}, {stop})")));
        }
        let n = if step > 0 {
            (width + step - 1).div_euclid(step)
        } else if step < 0 {
            (width + step + 1).div_euclid(step)
        } else {
            return Err(fail("zero step for randrange()"));
        };
        if n <= 0 {
            return Err(fail("empty range for randrange()"));
        }
        Ok(start + step * self.randbelow(n as u128) as i128)
    }

    /// `shuffle(list)`.
    pub fn shuffle(&mut self, items: &mut [Value]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u128 + 1) as usize;
            items.swap(i, j);
        }
    }
}

pub(crate) fn rng_for(seed: Option<Value>) -> PyRandom {
    match seed {
        Some(s) if !s.is_none() && !s.is_undefined() => PyRandom::from_seed(&s),
        _ => PyRandom::from_entropy(),
    }
}

/// `random(start=None, step=None, seed=None)`: a number below an integer, or an element.
pub(crate) fn random(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("random", args);
    let start = opt_int(p.take("start"), "start")?;
    let step = opt_int(p.take("step"), "step")?;
    let seed = p.take("seed");
    p.finish()?;
    defined(value, "random")?;
    let mut rng = rng_for(seed);
    if let Some(end) = as_i128(value).filter(|_| value.kind() == ValueKind::Number) {
        let start = start.filter(|s| *s != 0).unwrap_or(0) as i128;
        let step = step.filter(|s| *s != 0).unwrap_or(1) as i128;
        return Ok(Value::from(rng.randrange(start, end, step)?));
    }
    if value.kind() == ValueKind::Number || value.kind() == ValueKind::Bool || value.is_none() {
        return Err(fail("random can only be used on sequences and integers"));
    }
    if start.unwrap_or(0) != 0 || step.unwrap_or(0) != 0 {
        return Err(fail("start and step can only be used with integer values"));
    }
    let items = to_vec(value)?;
    if items.is_empty() {
        return Err(fail("Cannot choose from an empty sequence"));
    }
    let i = rng.randbelow(items.len() as u128) as usize;
    Ok(items[i].clone())
}

/// `shuffle(seed=None)`.
pub(crate) fn shuffle(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let mut p = Params::new("shuffle", args);
    let seed = p.take("seed");
    p.finish()?;
    defined(value, "shuffle")?;
    let Ok(mut items) = to_vec(value) else {
        return Ok(value.clone());
    };
    let seed = seed.filter(|s| s.is_true());
    rng_for(seed).shuffle(&mut items);
    Ok(Value::from(items))
}
