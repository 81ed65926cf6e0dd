//! Element-wise loops compiled for the widest vector instructions the CPU has — AVX-512, else
//! AVX2, else the baseline (SSE2) — chosen at run time through `pulp`'s dispatch.
//!
//! The release build targets the baseline, so a plain loop over a branch-free function (the
//! fast `tanh`, Adam's update) vectorises only four lanes wide; run under [`run`] it gets
//! sixteen on an AVX-512 machine.
//!
//! Same bits on every machine: a loop body is the same Rust code whatever the width, and the
//! operations it may use (+, −, ×, ÷, √, min/max, comparisons, selects, bit arithmetic) are
//! exactly rounded per element in any vector width. Rust never contracts a multiply and an add
//! into an FMA, nor reassociates, even where the target has FMA (AVX2 and AVX-512 do), so the
//! wide loop and the portable one give identical results (test
//! `every_instruction_set_gives_the_same_bits`). Reductions are not for here: a sum's order
//! would change with the width.

/// Runs `f` compiled for the CPU's widest vector instructions. `f` must be a closure marked
/// `#[inline(always)]` (so its body, and what it inlines, is compiled inside the dispatch) that
/// owns what it uses (`move`), and should do element-wise work only (see the module's note).
#[inline(always)]
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `dst[i] = f(src[i])` over the shorter length, in a loop compiled for the CPU's widest
/// vectors; `f` should be small or `#[inline(always)]`, and branch-free to vectorise.
#[inline(always)]
pub(crate) fn map<T: Copy, U>(src: &[T], dst: &mut [U], f: impl Fn(T) -> U) {
    map_on(pulp::Arch::new(), src, dst, f)
}

/// [`map`] on a chosen instruction set (the tests compare them).
#[inline(always)]
fn map_on<T: Copy, U>(arch: pulp::Arch, src: &[T], dst: &mut [U], f: impl Fn(T) -> U) {
    arch.dispatch(
        #[inline(always)]
        move || {
            for (o, &x) in dst.iter_mut().zip(src) {
                *o = f(x);
            }
        },
    )
}

/// `dst[i] = f(a[i], b[i])` over the shortest length, in a loop compiled for the CPU's widest
/// vectors.
#[inline(always)]
pub(crate) fn zip<T: Copy, U>(a: &[T], b: &[T], dst: &mut [U], f: impl Fn(T, T) -> U) {
    run(
        #[inline(always)]
        move || {
            for (o, (&x, &y)) in dst.iter_mut().zip(a.iter().zip(b)) {
                *o = f(x, y);
            }
        },
    )
}

/// `v[i] = f(v[i])`, in a loop compiled for the CPU's widest vectors.
#[inline(always)]
pub(crate) fn map_in_place<T: Copy>(v: &mut [T], f: impl Fn(T) -> T) {
    run(
        #[inline(always)]
        move || {
            for x in v.iter_mut() {
                *x = f(*x);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::map_on;
    use crate::ops::elementwise::{exp_neg_f32, tanh_f32};

    /// Every instruction set this CPU has (the portable loop always).
    fn arches() -> Vec<(&'static str, pulp::Arch)> {
        let mut out = vec![("scalar", pulp::Arch::Scalar)];
        if let Some(s) = pulp::x86::V3::try_new() {
            out.push(("avx2", pulp::Arch::V3(s)));
        }
        if let Some(s) = pulp::x86::V4::try_new() {
            out.push(("avx512", pulp::Arch::V4(s)));
        }
        out
    }

    /// Inputs: a dense grid, every exponent with random mantissas, and the special values; an
    /// odd length so the vector loops' tails run too.
    fn inputs() -> Vec<f32> {
        let mut x: Vec<f32> = (-300_001..=300_001).map(|k| k as f32 * 7.3e-5).collect();
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..400_001 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            x.push(f32::from_bits(s as u32));
        }
        x.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1e-40,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.55,
            -0.55,
            0.549_999_95,
            87.0,
            -87.0,
            -88.0,
        ]);
        x
    }

    /// `f` on every instruction set against the element-by-element loop, bit for bit. `f` is
    /// a generic closure (not a function pointer), so each dispatch inlines and widens it.
    fn check(name: &str, x: &[f32], f: impl Fn(f32) -> f32 + Copy) {
        let want: Vec<u32> = x.iter().map(|&v| f(v).to_bits()).collect();
        for (arch_name, arch) in arches() {
            let mut got = vec![0.0f32; x.len()];
            map_on(arch, x, &mut got, f);
            let diff = want.iter().zip(&got).position(|(&a, b)| a != b.to_bits());
            if let Some(i) = diff {
                panic!(
                    "{name} on {arch_name}: input {:e} gave bits {:#x}, element by element {:#x}",
                    x[i],
                    got[i].to_bits(),
                    want[i]
                );
            }
        }
    }

    /// The wide loops of tanh, e^(−|x|), Adam's update (a division and a root) and ReLU-like
    /// selects give the portable loop's bits on every instruction set.
    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let x = inputs();
        check("tanh", &x, tanh_f32);
        check("exp_neg", &x, |v| exp_neg_f32(-v.abs()));
        check("adam-like", &x, |v| {
            let m = 0.9 * v + (1.0 - 0.9) * (v * 0.5);
            let s = (v * v).sqrt() / 0.999_f32.sqrt() + 1e-8;
            if m.abs() < 1e-30 {
                0.0
            } else {
                v - 3e-4 * m / s
            }
        });
        check("relu-like", &x, |v| v.max(0.0) + v.min(-1.0) * 0.25);
        check("tanh-grad", &x, |v| v * (1.0 - tanh_f32(v) * tanh_f32(v)));
        check("libm exp", &x, f32::exp);
    }

    /// The same in `f64` (the gradient checks' type), and [`super::zip`] on two inputs.
    #[test]
    fn f64_maps_and_zips_give_the_same_bits() {
        let x: Vec<f64> = inputs().iter().map(|&v| f64::from(v) * 1.000_001).collect();
        let y: Vec<f64> = x.iter().rev().copied().collect();
        let f = |a: f64, b: f64| {
            let m = 0.9 * a + (1.0 - 0.9) * b;
            let s = (b * b).sqrt() / 0.999f64.sqrt() + 1e-8;
            if a > b {
                m / s
            } else {
                a.max(0.0) - b
            }
        };
        let want: Vec<u64> = x.iter().zip(&y).map(|(&a, &b)| f(a, b).to_bits()).collect();
        let mut got = vec![0.0f64; x.len()];
        super::zip(&x, &y, &mut got, f);
        assert!(want.iter().zip(&got).all(|(&w, g)| w == g.to_bits()));
        for (_, arch) in arches() {
            map_on(arch, &x, &mut got, |a| f(a, 0.5));
            assert!(x
                .iter()
                .zip(&got)
                .all(|(&a, g)| f(a, 0.5).to_bits() == g.to_bits()));
        }
    }
}
