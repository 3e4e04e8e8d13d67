//! ISO/IEC 19794-2:2005 finger minutiae records: the byte layout that scanners and registry systems exchange.
//!
//! [`MinutiaeRecord::parse`] checks every field once and yields a record the rest of the crate can trust;
//! [`MinutiaeRecord::to_bytes`] writes the canonical bytes back. Reserved fields must be zero, so every record
//! this module accepts is canonical and writes back to exactly the bytes it was read from. This module knows
//! nothing about matching; extended data blocks are kept as opaque bytes.
//!
//! Layout (big-endian), after the reference readers (NIST biomdi `libfmr`, FingerprintIO):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | format identifier `"FMR\0"` |
//! | 4 | version `" 20\0"` |
//! | 4 | record length, the whole record in bytes |
//! | 2 | capture equipment certification (4 bits), capture device type (12 bits) |
//! | 2 + 2 | image width and height in pixels |
//! | 2 + 2 | horizontal and vertical resolution in pixels per centimetre |
//! | 1 | number of finger views |
//! | 1 | reserved, zero |
//!
//! then per finger view: finger position (1), view number (4 bits) and impression type (4 bits), finger quality
//! (1), number of minutiae (1), then 6 bytes per minutia: type (2 bits) and x (14 bits), reserved (2 bits) and y
//! (14 bits), angle in units of 360/256 degrees counter-clockwise from the horizontal axis pointing right (1),
//! quality (1); then the extended data length (2) and that many bytes.

use thiserror::Error;

/// The record's first four bytes.
pub const FORMAT_IDENTIFIER: [u8; 4] = *b"FMR\0";
/// The version of the 2005 edition of the standard.
pub const VERSION_2005: [u8; 4] = *b" 20\0";
/// The largest coordinate a minutia can carry (14 bits).
pub const MAX_COORDINATE: u16 = 0x3FFF;
/// Finger and minutia qualities are 0 to 100.
pub const MAX_QUALITY: u8 = 100;
/// View and minutia counts are single bytes.
pub const MAX_VIEWS: usize = 255;
/// See [`MAX_VIEWS`].
pub const MAX_MINUTIAE_PER_VIEW: usize = 255;
/// The extended data length is two bytes.
pub const MAX_EXTENDED_DATA: usize = 0xFFFF;

const RECORD_HEADER_LEN: usize = 24;
const VIEW_HEADER_LEN: usize = 4;
const MINUTIA_LEN: usize = 6;
const EXTENDED_LENGTH_LEN: usize = 2;

/// Why a byte string is not a valid ISO/IEC 19794-2:2005 record, or a record cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("record truncated: the {field} needs {needed} bytes at offset {offset}, only {available} remain")]
    Truncated { field: &'static str, offset: usize, needed: usize, available: usize },
    #[error("not a finger minutiae record: format identifier is {found:02x?}, expected \"FMR\\0\"")]
    WrongFormatIdentifier { found: [u8; 4] },
    #[error("unsupported version {found:02x?}: only ISO/IEC 19794-2:2005 (\" 20\\0\") is read")]
    UnsupportedVersion { found: [u8; 4] },
    #[error("record length field says {declared} bytes but {actual} bytes were given")]
    LengthMismatch { declared: u32, actual: usize },
    #[error("{count} bytes follow the last finger view")]
    TrailingBytes { count: usize },
    #[error("the image size is {width}x{height} pixels; neither may be zero")]
    ZeroImageSize { width: u16, height: u16 },
    #[error("the resolution is {x}x{y} pixels per centimetre; neither may be zero")]
    ZeroResolution { x: u16, y: u16 },
    #[error("the image is {width}x{height} pixels; minutia coordinates have 14 bits, so neither may exceed 16384")]
    ImageTooLarge { width: u16, height: u16 },
    #[error(
        "capture equipment certification {certification:#x} or device type {device_type:#x} does not fit its field"
    )]
    CaptureEquipmentOutOfRange { certification: u8, device_type: u16 },
    #[error("the {field} is reserved and must be zero")]
    ReservedNotZero { field: &'static str },
    #[error("{count} finger views; a record holds at most 255")]
    TooManyViews { count: usize },
    #[error("finger view {view}: finger position code {code} is not 0 (unknown) to 10")]
    InvalidFingerPosition { view: usize, code: u8 },
    #[error("finger view {view}: view number {number} does not fit in 4 bits")]
    InvalidViewNumber { view: usize, number: u8 },
    #[error("finger view {view}: impression type code {code} is not 0-3, 8 or 9")]
    InvalidImpressionType { view: usize, code: u8 },
    #[error("finger view {view}: finger quality {quality} is above 100")]
    FingerQualityOutOfRange { view: usize, quality: u8 },
    #[error("finger view {view}: {count} minutiae; a view holds at most 255")]
    TooManyMinutiae { view: usize, count: usize },
    #[error("finger view {view}: {length} bytes of extended data; at most 65535")]
    ExtendedDataTooLong { view: usize, length: usize },
    #[error("finger view {view}, minutia {minutia}: type code 0b11 is reserved")]
    InvalidMinutiaType { view: usize, minutia: usize },
    #[error("finger view {view}, minutia {minutia}: ({x}, {y}) lies outside the {width}x{height} image")]
    MinutiaOutsideImage { view: usize, minutia: usize, x: u16, y: u16, width: u16, height: u16 },
    #[error("finger view {view}, minutia {minutia}: quality {quality} is above 100")]
    MinutiaQualityOutOfRange { view: usize, minutia: usize, quality: u8 },
}

/// What the record says about the capture: equipment, image size and resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureInfo {
    /// Capture equipment certification flags (4 bits).
    pub equipment_certification: u8,
    /// Vendor-assigned capture device type (12 bits); 0 when unreported.
    pub device_type: u16,
    pub image_width: u16,
    pub image_height: u16,
    /// Pixels per centimetre (500 dpi ≈ 197).
    pub resolution_x: u16,
    pub resolution_y: u16,
}

/// Which finger a view shows (ISO/IEC 19794-2 table of finger positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FingerPosition {
    Unknown,
    RightThumb,
    RightIndex,
    RightMiddle,
    RightRing,
    RightLittle,
    LeftThumb,
    LeftIndex,
    LeftMiddle,
    LeftRing,
    LeftLittle,
}

impl FingerPosition {
    const ALL: [FingerPosition; 11] = [
        Self::Unknown,
        Self::RightThumb,
        Self::RightIndex,
        Self::RightMiddle,
        Self::RightRing,
        Self::RightLittle,
        Self::LeftThumb,
        Self::LeftIndex,
        Self::LeftMiddle,
        Self::LeftRing,
        Self::LeftLittle,
    ];

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How the impression was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImpressionType {
    LiveScanPlain,
    LiveScanRolled,
    NonLiveScanPlain,
    NonLiveScanRolled,
    Swipe,
    LiveScanContactless,
}

impl ImpressionType {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::LiveScanPlain,
            1 => Self::LiveScanRolled,
            2 => Self::NonLiveScanPlain,
            3 => Self::NonLiveScanRolled,
            8 => Self::Swipe,
            9 => Self::LiveScanContactless,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Self::LiveScanPlain => 0,
            Self::LiveScanRolled => 1,
            Self::NonLiveScanPlain => 2,
            Self::NonLiveScanRolled => 3,
            Self::Swipe => 8,
            Self::LiveScanContactless => 9,
        }
    }
}

/// A minutia's type; code 0b11 is reserved and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinutiaKind {
    Other,
    RidgeEnding,
    Bifurcation,
}

impl MinutiaKind {
    fn from_code(code: u16) -> Option<Self> {
        match code {
            0b00 => Some(Self::Other),
            0b01 => Some(Self::RidgeEnding),
            0b10 => Some(Self::Bifurcation),
            _ => None,
        }
    }

    fn code(self) -> u16 {
        match self {
            Self::Other => 0b00,
            Self::RidgeEnding => 0b01,
            Self::Bifurcation => 0b10,
        }
    }
}

/// One minutia in image pixels (origin top left, y down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minutia {
    pub kind: MinutiaKind,
    pub x: u16,
    pub y: u16,
    /// Counter-clockwise from the horizontal axis pointing right, in units of 360/256 degrees.
    pub angle: u8,
    /// 1 (worst) to 100 (best); 0 when unreported.
    pub quality: u8,
}

/// One impression of one finger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerView {
    pub position: FingerPosition,
    /// 0 for the first view of this finger in the record, up to 15.
    pub view_number: u8,
    pub impression: ImpressionType,
    /// 0 (worst) to 100 (best).
    pub quality: u8,
    pub minutiae: Vec<Minutia>,
    /// The extended data blocks (ridge counts, cores and deltas, vendor data), kept as opaque bytes.
    pub extended_data: Vec<u8>,
}

/// A validated ISO/IEC 19794-2:2005 finger minutiae record: every field is in range, every minutia lies inside
/// the image, and the record fits the format's counters, so [`MinutiaeRecord::to_bytes`] cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinutiaeRecord {
    capture: CaptureInfo,
    views: Vec<FingerView>,
}

impl MinutiaeRecord {
    /// Builds a record from its parts, refusing what the format cannot carry.
    pub fn new(capture: CaptureInfo, views: Vec<FingerView>) -> Result<Self, RecordError> {
        validate_capture(&capture)?;
        if views.len() > MAX_VIEWS {
            return Err(RecordError::TooManyViews { count: views.len() });
        }
        for (index, view) in views.iter().enumerate() {
            validate_view(&capture, index, view)?;
        }
        Ok(Self { capture, views })
    }

    pub fn capture(&self) -> &CaptureInfo {
        &self.capture
    }

    pub fn views(&self) -> &[FingerView] {
        &self.views
    }

    pub fn into_views(self) -> Vec<FingerView> {
        self.views
    }

    /// The record's length in bytes, as its header states it.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN
            + self
                .views
                .iter()
                .map(|view| {
                    VIEW_HEADER_LEN + MINUTIA_LEN * view.minutiae.len() + EXTENDED_LENGTH_LEN + view.extended_data.len()
                })
                .sum::<usize>()
    }

    /// Reads one record that spans exactly `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut reader = Reader { bytes, offset: 0 };
        let format = reader.array::<4>("format identifier")?;
        if format != FORMAT_IDENTIFIER {
            return Err(RecordError::WrongFormatIdentifier { found: format });
        }
        let version = reader.array::<4>("version")?;
        if version != VERSION_2005 {
            return Err(RecordError::UnsupportedVersion { found: version });
        }
        let declared = u32::from_be_bytes(reader.array::<4>("record length")?);
        // A length that disagrees with the bytes given is refused before anything else is read: a record cut
        // short in transit and one with something glued to its end are both reported as such.
        if usize::try_from(declared).ok() != Some(bytes.len()) {
            return Err(RecordError::LengthMismatch { declared, actual: bytes.len() });
        }
        let equipment = reader.u16("capture equipment")?;
        let capture = CaptureInfo {
            equipment_certification: (equipment >> 12) as u8,
            device_type: equipment & 0x0FFF,
            image_width: reader.u16("image width")?,
            image_height: reader.u16("image height")?,
            resolution_x: reader.u16("horizontal resolution")?,
            resolution_y: reader.u16("vertical resolution")?,
        };
        let view_count = reader.u8("number of finger views")?;
        if reader.u8("reserved header byte")? != 0 {
            return Err(RecordError::ReservedNotZero { field: "byte after the number of finger views" });
        }
        validate_capture(&capture)?;

        let mut views = Vec::with_capacity(usize::from(view_count));
        for index in 0..usize::from(view_count) {
            let view = read_view(&mut reader, index)?;
            validate_view(&capture, index, &view)?;
            views.push(view);
        }
        let remaining = reader.remaining();
        if remaining != 0 {
            return Err(RecordError::TrailingBytes { count: remaining });
        }
        Ok(Self { capture, views })
    }

    /// Writes the canonical bytes of the record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let length = self.encoded_len();
        let mut out = Vec::with_capacity(length);
        out.extend_from_slice(&FORMAT_IDENTIFIER);
        out.extend_from_slice(&VERSION_2005);
        // Bounded by the counters `new` enforces: 24 + 255 * (4 + 255 * 6 + 2 + 65535) < 2^32.
        out.extend_from_slice(&(length as u32).to_be_bytes());
        let equipment = (u16::from(self.capture.equipment_certification) << 12) | self.capture.device_type;
        out.extend_from_slice(&equipment.to_be_bytes());
        for value in
            [self.capture.image_width, self.capture.image_height, self.capture.resolution_x, self.capture.resolution_y]
        {
            out.extend_from_slice(&value.to_be_bytes());
        }
        out.push(self.views.len() as u8);
        out.push(0);
        for view in &self.views {
            out.push(view.position.code());
            out.push((view.view_number << 4) | view.impression.code());
            out.push(view.quality);
            out.push(view.minutiae.len() as u8);
            for minutia in &view.minutiae {
                out.extend_from_slice(&((minutia.kind.code() << 14) | minutia.x).to_be_bytes());
                out.extend_from_slice(&minutia.y.to_be_bytes());
                out.push(minutia.angle);
                out.push(minutia.quality);
            }
            out.extend_from_slice(&(view.extended_data.len() as u16).to_be_bytes());
            out.extend_from_slice(&view.extended_data);
        }
        debug_assert_eq!(out.len(), length);
        out
    }
}

fn validate_capture(capture: &CaptureInfo) -> Result<(), RecordError> {
    if capture.equipment_certification > 0x0F || capture.device_type > 0x0FFF {
        return Err(RecordError::CaptureEquipmentOutOfRange {
            certification: capture.equipment_certification,
            device_type: capture.device_type,
        });
    }
    let (width, height) = (capture.image_width, capture.image_height);
    if width == 0 || height == 0 {
        return Err(RecordError::ZeroImageSize { width, height });
    }
    // A coordinate is 14 bits, so an image wider than 16384 pixels has pixels no minutia can name.
    if width > MAX_COORDINATE + 1 || height > MAX_COORDINATE + 1 {
        return Err(RecordError::ImageTooLarge { width, height });
    }
    if capture.resolution_x == 0 || capture.resolution_y == 0 {
        return Err(RecordError::ZeroResolution { x: capture.resolution_x, y: capture.resolution_y });
    }
    Ok(())
}

fn validate_view(capture: &CaptureInfo, view: usize, finger: &FingerView) -> Result<(), RecordError> {
    if finger.view_number > 0x0F {
        return Err(RecordError::InvalidViewNumber { view, number: finger.view_number });
    }
    if finger.quality > MAX_QUALITY {
        return Err(RecordError::FingerQualityOutOfRange { view, quality: finger.quality });
    }
    if finger.minutiae.len() > MAX_MINUTIAE_PER_VIEW {
        return Err(RecordError::TooManyMinutiae { view, count: finger.minutiae.len() });
    }
    if finger.extended_data.len() > MAX_EXTENDED_DATA {
        return Err(RecordError::ExtendedDataTooLong { view, length: finger.extended_data.len() });
    }
    for (index, minutia) in finger.minutiae.iter().enumerate() {
        if minutia.x >= capture.image_width || minutia.y >= capture.image_height {
            return Err(RecordError::MinutiaOutsideImage {
                view,
                minutia: index,
                x: minutia.x,
                y: minutia.y,
                width: capture.image_width,
                height: capture.image_height,
            });
        }
        if minutia.quality > MAX_QUALITY {
            return Err(RecordError::MinutiaQualityOutOfRange { view, minutia: index, quality: minutia.quality });
        }
    }
    Ok(())
}

fn read_view(reader: &mut Reader<'_>, view: usize) -> Result<FingerView, RecordError> {
    let position_code = reader.u8("finger position")?;
    let position = FingerPosition::from_code(position_code)
        .ok_or(RecordError::InvalidFingerPosition { view, code: position_code })?;
    let view_and_impression = reader.u8("view number and impression type")?;
    let impression_code = view_and_impression & 0x0F;
    let impression = ImpressionType::from_code(impression_code)
        .ok_or(RecordError::InvalidImpressionType { view, code: impression_code })?;
    let quality = reader.u8("finger quality")?;
    let count = usize::from(reader.u8("number of minutiae")?);
    // Checked before allocating, so a forged count cannot make us reserve memory the input does not back.
    reader.ensure(count * MINUTIA_LEN, "minutiae")?;
    let mut minutiae = Vec::with_capacity(count);
    for index in 0..count {
        let type_and_x = reader.u16("minutia x")?;
        let reserved_and_y = reader.u16("minutia y")?;
        let angle = reader.u8("minutia angle")?;
        let minutia_quality = reader.u8("minutia quality")?;
        let kind =
            MinutiaKind::from_code(type_and_x >> 14).ok_or(RecordError::InvalidMinutiaType { view, minutia: index })?;
        if reserved_and_y >> 14 != 0 {
            return Err(RecordError::ReservedNotZero { field: "top two bits of a minutia's y coordinate" });
        }
        minutiae.push(Minutia {
            kind,
            x: type_and_x & MAX_COORDINATE,
            y: reserved_and_y,
            angle,
            quality: minutia_quality,
        });
    }
    let extended_length = usize::from(reader.u16("extended data length")?);
    let extended_data = reader.take(extended_length, "extended data")?.to_vec();
    Ok(FingerView { position, view_number: view_and_impression >> 4, impression, quality, minutiae, extended_data })
}

/// A cursor that reports which field ran past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    fn ensure(&self, needed: usize, field: &'static str) -> Result<(), RecordError> {
        let available = self.remaining();
        if needed > available {
            return Err(RecordError::Truncated { field, offset: self.offset, needed, available });
        }
        Ok(())
    }

    fn take(&mut self, needed: usize, field: &'static str) -> Result<&'a [u8], RecordError> {
        self.ensure(needed, field)?;
        let slice = &self.bytes[self.offset..self.offset + needed];
        self.offset += needed;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RecordError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, field)?);
        Ok(array)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, RecordError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, RecordError> {
        Ok(u16::from_be_bytes(self.array::<2>(field)?))
    }
}
