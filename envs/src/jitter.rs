//! Random small translations and rotations of square images, the data augmentation Santoro et
//! al. (2016) apply to Omniglot's training characters ("randomly translating and rotating
//! character images") on top of the 90° rotations that make new classes.
//!
//! Each image gets its own draw: a shift in whole pixels, uniform in `-max_shift ..= max_shift`
//! on each axis, and an angle uniform in `[-max_angle, max_angle]` degrees about the centre.
//! The output is sampled bilinearly from the input (ink outside the frame is 0), so a pure
//! whole-pixel shift moves pixels exactly and blurs nothing.

use rand::Rng as _;

use autodidact_core::Rng;

/// How far images may be moved and turned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter {
    /// The largest shift, in whole pixels, on each axis.
    pub max_shift: usize,
    /// The largest rotation, in degrees, either way.
    pub max_angle: f64,
}

impl Jitter {
    /// Whether this jitter changes anything.
    pub fn is_identity(&self) -> bool {
        self.max_shift == 0 && self.max_angle == 0.0
    }

    /// Moves and turns every `size x size` image in `images` (concatenated) in place, one draw
    /// from `rng` per image.
    pub fn apply(&self, images: &mut [f32], size: usize, rng: &mut Rng) {
        if self.is_identity() || size == 0 {
            return;
        }
        let s = self.max_shift as i64;
        let mut out = vec![0.0f32; size * size];
        for img in images.chunks_exact_mut(size * size) {
            let dx = rng.random_range(-s..=s) as f64;
            let dy = rng.random_range(-s..=s) as f64;
            let angle = if self.max_angle > 0.0 {
                rng.random_range(-self.max_angle..=self.max_angle)
                    .to_radians()
            } else {
                0.0
            };
            transform_into(img, &mut out, size, dx, dy, angle);
            img.copy_from_slice(&out);
        }
    }
}

/// `img` (`size x size`) turned by `angle` radians about its centre, then shifted by
/// `(dx, dy)` pixels (x to the right, y down): each output pixel reads the input at the inverse
/// transform of its position.
pub fn transform(img: &[f32], size: usize, dx: f64, dy: f64, angle: f64) -> Vec<f32> {
    let mut out = vec![0.0f32; size * size];
    transform_into(img, &mut out, size, dx, dy, angle);
    out
}

/// [`transform`] written into `out` (`size x size`), so one buffer serves a whole batch.
fn transform_into(img: &[f32], out: &mut [f32], size: usize, dx: f64, dy: f64, angle: f64) {
    let c = (size as f64 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    for (r, row) in out.chunks_exact_mut(size).enumerate() {
        for (col, px) in row.iter_mut().enumerate() {
            // Undo the shift, then the rotation (its inverse is the rotation by −angle).
            let (x, y) = (col as f64 - dx - c, r as f64 - dy - c);
            let sx = cos * x + sin * y + c;
            let sy = -sin * x + cos * y + c;
            *px = bilinear(img, size, sx, sy);
        }
    }
}

/// The image's value at `(x, y)` by bilinear interpolation; 0 outside it.
fn bilinear(img: &[f32], size: usize, x: f64, y: f64) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let at = |xi: f64, yi: f64| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= size as f64 || yi >= size as f64 {
            0.0
        } else {
            img[yi as usize * size + xi as usize]
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodidact_core::Seed;

    fn ramp(size: usize) -> Vec<f32> {
        (0..size * size).map(|i| i as f32 + 1.0).collect()
    }

    #[test]
    fn a_whole_pixel_shift_moves_pixels_exactly() {
        let img = ramp(4);
        let out = transform(&img, 4, 1.0, -1.0, 0.0);
        // Output (r, c) reads input (r + 1, c − 1); the first column and last row are empty.
        for r in 0..4 {
            for c in 0..4 {
                let want = if c == 0 || r == 3 {
                    0.0
                } else {
                    img[(r + 1) * 4 + c - 1]
                };
                assert_eq!(out[r * 4 + c], want, "pixel ({r}, {c})");
            }
        }
    }

    #[test]
    fn a_quarter_turn_matches_rotate90() {
        let img = ramp(5);
        let turned = transform(&img, 5, 0.0, 0.0, std::f64::consts::FRAC_PI_2);
        let exact = crate::omniglot::rotate90(&img, 5);
        for (a, b) in turned.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-4, "{a} against {b}");
        }
    }

    #[test]
    fn no_jitter_leaves_images_and_the_generator_alone() {
        let mut img = ramp(3);
        let mut rng = Seed(1).rng("t");
        let before = rng.clone();
        Jitter {
            max_shift: 0,
            max_angle: 0.0,
        }
        .apply(&mut img, 3, &mut rng);
        assert_eq!(img, ramp(3));
        assert_eq!(rng, before);
    }

    #[test]
    fn each_image_gets_its_own_seeded_draw() {
        let jitter = Jitter {
            max_shift: 2,
            max_angle: 10.0,
        };
        let run = |seed| {
            let mut imgs: Vec<f32> = ramp(6).into_iter().cycle().take(6 * 36).collect();
            jitter.apply(&mut imgs, 6, &mut Seed(seed).rng("t"));
            imgs
        };
        let a = run(3);
        assert_eq!(a, run(3), "same seed, same images");
        assert_ne!(a, run(4));
        let distinct: std::collections::BTreeSet<Vec<u32>> = a
            .chunks(36)
            .map(|c| c.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert!(distinct.len() > 1, "six copies all jittered alike");
    }
}
