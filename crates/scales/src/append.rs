//! Appending short text to a `String` without a call to `memcpy`.
//!
//! The text formats are made of many short pieces: a metric name, a path, a label, a number.
//! `String::push_str` copies each with `memcpy`, whose call and size dispatch cost more than
//! the copy of a 20-byte name, and the Prometheus writer spent about a fifth of its
//! instructions there. [`push`] copies up to 64 bytes with two overlapping fixed-size moves
//! (the way `memcpy` itself does small sizes), which the compiler inlines. No crate offers
//! this for `String`; it is the one place of the formats with `unsafe` code.

/// The longest text [`push`] copies itself; longer text goes through `push_str`.
const SHORT: usize = 64;

/// Appends `text` to `out`, as `out.push_str(text)` does.
#[inline(always)]
pub(crate) fn push(out: &mut String, text: &str) {
    let len = text.len();
    if len > SHORT {
        return out.push_str(text);
    }
    out.reserve(SHORT);
    let src = text.as_ptr();
    // SAFETY: `out` has room for `SHORT >= len` more bytes, and every move below reads
    // inside `text` (each pair covers `0..len`, overlapping in the middle) and writes inside
    // that room, at the same offsets. So the bytes after `out`'s end are then those of
    // `text`, a `str`, and `out` stays UTF-8 when its length takes them in.
    unsafe {
        let bytes = out.as_mut_vec();
        let dst = bytes.as_mut_ptr().add(bytes.len());
        if len >= 32 {
            copy_pair::<32>(src, dst, len);
        } else if len >= 16 {
            copy_pair::<16>(src, dst, len);
        } else if len >= 8 {
            copy_pair::<8>(src, dst, len);
        } else if len >= 4 {
            copy_pair::<4>(src, dst, len);
        } else if len > 0 {
            // 1 to 3 bytes: the first, the middle and the last (some the same).
            *dst = *src;
            *dst.add(len / 2) = *src.add(len / 2);
            *dst.add(len - 1) = *src.add(len - 1);
        }
        bytes.set_len(bytes.len() + len);
    }
}

/// Copies `len` bytes, `N <= len <= 2 * N`, as the first `N` and the last `N`.
///
/// # Safety
/// `src` must be readable and `dst` writable for `len` bytes, and they must not overlap.
#[inline(always)]
unsafe fn copy_pair<const N: usize>(src: *const u8, dst: *mut u8, len: usize) {
    debug_assert!((N..=2 * N).contains(&len));
    // SAFETY: both moves stay within `0..len` of each side (the caller's promise).
    unsafe {
        let head = src.cast::<[u8; N]>().read_unaligned();
        let tail = src.add(len - N).cast::<[u8; N]>().read_unaligned();
        dst.cast::<[u8; N]>().write_unaligned(head);
        dst.add(len - N).cast::<[u8; N]>().write_unaligned(tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_every_length_at_every_offset() {
        let source = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(3);
        for before in 0..40 {
            for len in 0..=SHORT + 8 {
                for start in [0, 1, 7, 40] {
                    let text = &source[start..start + len];
                    // An exact capacity, so the room is the one `push` reserves.
                    let mut out = String::with_capacity(before);
                    out.push_str(&source[..before]);
                    push(&mut out, text);
                    push(&mut out, "é");
                    assert_eq!(out, format!("{}{text}é", &source[..before]));
                }
            }
        }
    }

    #[test]
    fn keeps_multibyte_characters_whole() {
        let mut out = String::new();
        for text in ["é", "€", "😀", "aé", "日本語", "😀😀😀😀😀😀😀😀😀"]
        {
            push(&mut out, text);
        }
        assert_eq!(out, "é€😀aé日本語😀😀😀😀😀😀😀😀😀");
    }
}
