//! The PDF bounds checked before rendering: embedded image pixels and drawing operations.

use std::time::Instant;

use super::*;

/// A one-page PDF drawing one DeviceGray image XObject whose dictionary says `dict_side` x
/// `dict_side` pixels and whose data is `data` under `filter`.
fn pdf_with_image(dict_side: i32, data: &[u8], filter: Option<pdf_writer::Filter>) -> Vec<u8> {
    use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref};
    let (catalog, tree, page, content, image) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.parent(tree)
        .media_box(Rect::new(0.0, 0.0, 200.0, 200.0))
        .contents(content);
    p.resources().x_objects().pair(Name(b"Im1"), image);
    p.finish();
    let mut c = Content::new();
    c.save_state()
        .transform([100.0, 0.0, 0.0, 100.0, 50.0, 50.0])
        .x_object(Name(b"Im1"))
        .restore_state();
    pdf.stream(content, &c.finish());
    let mut x = pdf.image_xobject(image, data);
    x.width(dict_side).height(dict_side).bits_per_component(8);
    x.color_space().device_gray();
    if let Some(f) = filter {
        x.filter(f);
    }
    x.finish();
    pdf.finish()
}

#[test]
fn a_pdf_image_too_large_to_decode_is_refused_before_rendering() {
    // The dictionary says 20000 x 20000 (400 Mpx).
    let big = pdf_with_image(20_000, &[0u8; 16], None);
    let err = decode(&big, &DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "embedded image pixels",
                actual: 400_000_000,
                ..
            }
        ),
        "{err}"
    );
    // The dictionary says 10 x 10 but the JPEG stream's frame header claims 65000 x 60000.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8];
    jpeg.extend(60000u16.to_be_bytes());
    jpeg.extend(65000u16.to_be_bytes());
    jpeg.extend([1, 1, 0x11, 0]);
    let lying = pdf_with_image(10, &jpeg, Some(pdf_writer::Filter::DctDecode));
    let err = decode(&lying, &DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "embedded image pixels",
                actual: 3_900_000_000,
                ..
            }
        ),
        "{err}"
    );
    // A small image is drawn.
    let small = pdf_with_image(10, &[0u8; 100], None);
    let pages = decode(&small, &DecodeLimits::default()).expect("a small image renders");
    assert_eq!(pages.len(), 1);
}

/// A one-page PDF whose content draws form 0, form k drawing form k+1 `fan` times, the last a
/// square: `fan^levels` squares.
fn pdf_fan_out(levels: i32, fan: usize) -> Vec<u8> {
    use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref};
    let (catalog, tree, page, content) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let form = |k: i32| Ref::new(10 + k);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.parent(tree)
        .media_box(Rect::new(0.0, 0.0, 100.0, 100.0))
        .contents(content);
    p.resources().x_objects().pair(Name(b"F"), form(0));
    p.finish();
    let mut c = Content::new();
    c.x_object(Name(b"F"));
    pdf.stream(content, &c.finish());
    for k in 0..=levels {
        let mut c = Content::new();
        if k < levels {
            for _ in 0..fan {
                c.save_state()
                    .transform([1.0, 0.0, 0.0, 1.0, 0.1, 0.0])
                    .x_object(Name(b"F"))
                    .restore_state();
            }
        } else {
            c.rect(0.0, 0.0, 1.0, 1.0).fill_nonzero();
        }
        let data = c.finish();
        let mut f = pdf.form_xobject(form(k), &data);
        f.bbox(Rect::new(0.0, 0.0, 100.0, 100.0));
        if k < levels {
            f.resources().x_objects().pair(Name(b"F"), form(k + 1));
        }
        f.finish();
    }
    pdf.finish()
}

#[test]
fn a_pdf_page_asking_for_too_much_drawing_is_refused_before_rendering() {
    // 10^8 squares: refused at once, not rendered for minutes.
    let t = Instant::now();
    let err = decode(&pdf_fan_out(8, 10), &DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "PDF drawing operations of a page",
                ..
            }
        ),
        "{err}"
    );
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    // 10^3 squares render.
    assert_eq!(
        decode(&pdf_fan_out(3, 10), &DecodeLimits::default())
            .expect("renders")
            .len(),
        1
    );
}
