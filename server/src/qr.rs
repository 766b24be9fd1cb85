//! QR codes as PNG data URLs for the dashboard and `start-session`.

use base64::{engine::general_purpose::STANDARD, Engine};
use image::{ImageFormat, Luma};
use qrcode::QrCode;
use std::io::Cursor;

/// Renders `code` as a `data:image/png;base64,…` URL (None if it cannot be encoded).
pub fn png_data_url(code: &str) -> Option<String> {
    let qr = QrCode::new(code.as_bytes()).ok()?;
    let img = qr.render::<Luma<u8>>().min_dimensions(264, 264).build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).ok()?;
    Some(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_png() {
        let url = super::png_data_url("2@abc,def,ghi,jkl").unwrap();
        assert!(url.starts_with("data:image/png;base64,iVBORw0KGgo"));
    }
}
