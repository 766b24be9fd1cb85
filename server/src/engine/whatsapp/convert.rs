//! Library message values → our [`InboundMessage`]. Pure functions, so the mapping is
//! unit-tested on constructed library values; the adapter adds what needs the client
//! (the LID→phone lookup and the media download).

use crate::engine::{InboundMedia, InboundMessage, MediaKind};
use whatsapp_rust::{
    prelude::{MessageExt, MessageInfo},
    types::message::MessageSource,
    wacore::download::Downloadable,
    wacore_binary::JidExt,
    waproto::whatsapp as wa,
    Jid,
};

/// The media a message carries, before its bytes are fetched.
pub struct MediaRef<'a> {
    pub kind: MediaKind,
    pub mimetype: String,
    pub file_name: Option<String>,
    /// As announced by the sender; `None` when unknown.
    pub length: Option<u64>,
    pub source: &'a dyn Downloadable,
}

/// Finds the media of a message, looking through ephemeral / view-once / edit wrappers.
pub fn media_of(message: &wa::Message) -> Option<MediaRef<'_>> {
    let base = message.get_base_message();
    let media = |kind, mimetype: &Option<String>, default: &str, file_name, length, source| MediaRef {
        kind,
        mimetype: mimetype.clone().unwrap_or_else(|| default.to_owned()),
        file_name,
        length,
        source,
    };
    if let Some(m) = base.image_message.as_option() {
        return Some(media(MediaKind::Image, &m.mimetype, "image/jpeg", None, m.file_length, m));
    }
    if let Some(m) = base.video_message.as_option() {
        return Some(media(MediaKind::Video, &m.mimetype, "video/mp4", None, m.file_length, m));
    }
    if let Some(m) = base.document_message.as_option() {
        let name = m.file_name.clone().or_else(|| m.title.clone());
        return Some(media(MediaKind::Document, &m.mimetype, "application/octet-stream", name, m.file_length, m));
    }
    if let Some(m) = base.audio_message.as_option() {
        return Some(media(MediaKind::Audio, &m.mimetype, "audio/ogg", None, m.file_length, m));
    }
    if let Some(m) = base.sticker_message.as_option() {
        return Some(media(MediaKind::Sticker, &m.mimetype, "image/webp", None, m.file_length, m));
    }
    None
}

/// The sender's phone-number JID when the message names it only by `@lid` and the
/// library passed the phone number along (`sender_alt`).
pub fn phone_from_source(source: &MessageSource) -> Option<Jid> {
    if !source.sender.is_lid() {
        return None;
    }
    source.sender_alt.as_ref().filter(|alt| alt.is_pn()).map(Jid::to_non_ad)
}

/// Whether the gateway reports this message: not our own, not a status update.
pub fn is_reportable(info: &MessageInfo) -> bool {
    !info.source.is_from_me && !info.source.chat.is_status_broadcast()
}

/// Builds our message. `sender_phone` replaces an `@lid` sender when known; `media` is
/// the downloaded file, if any. `None` for messages with nothing to report (reactions,
/// protocol and key-distribution messages).
pub fn to_inbound(
    message: &wa::Message,
    info: &MessageInfo,
    sender_phone: Option<Jid>,
    media: Option<InboundMedia>,
) -> Option<InboundMessage> {
    let text = message.text_content().or_else(|| message.get_caption()).map(str::to_owned);
    if text.is_none() && media.is_none() && media_of(message).is_none() {
        return None;
    }
    let source = &info.source;
    let sender = sender_phone.unwrap_or_else(|| source.sender.to_non_ad());
    // In a one-to-one chat the chat is the sender; prefer its phone-number form too.
    let chat = if source.is_group { source.chat.to_non_ad() } else { sender.clone() };
    Some(InboundMessage {
        id: info.id.clone(),
        chat: chat.to_string(),
        sender: sender.to_string(),
        is_group: source.is_group,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        text,
        media,
        timestamp: info.timestamp.timestamp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::buffa::MessageField;

    fn info(sender: &str, chat: &str, is_group: bool) -> MessageInfo {
        MessageInfo {
            id: "3EB0ABCDEF".into(),
            push_name: "Budi".into(),
            source: MessageSource {
                sender: sender.parse().unwrap(),
                chat: chat.parse().unwrap(),
                is_group,
                ..Default::default()
            },
            timestamp: whatsapp_rust::chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            ..Default::default()
        }
    }

    fn text(t: &str) -> wa::Message {
        wa::Message { conversation: Some(t.into()), ..Default::default() }
    }

    fn image(caption: Option<&str>) -> wa::Message {
        wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: caption.map(Into::into),
                mimetype: Some("image/png".into()),
                file_length: Some(1234),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn bytes(kind: MediaKind) -> InboundMedia {
        InboundMedia { kind, mimetype: "x/y".into(), file_name: None, data: Some(vec![1, 2, 3]) }
    }

    #[test]
    fn plain_text_from_a_phone_number() {
        let i = info("6281234567890:3@s.whatsapp.net", "6281234567890@s.whatsapp.net", false);
        let m = to_inbound(&text("halo"), &i, None, None).unwrap();
        assert_eq!(m.text.as_deref(), Some("halo"));
        assert_eq!(m.sender, "6281234567890@s.whatsapp.net", "device part dropped");
        assert_eq!(m.chat, "6281234567890@s.whatsapp.net");
        assert_eq!(m.id, "3EB0ABCDEF");
        assert_eq!(m.push_name.as_deref(), Some("Budi"));
        assert_eq!(m.timestamp, 1_700_000_000);
        assert!(!m.is_group && m.media.is_none());
    }

    #[test]
    fn extended_text_is_text() {
        let msg = wa::Message {
            extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                text: Some("with a link https://example.org".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = to_inbound(&msg, &info("1@s.whatsapp.net", "1@s.whatsapp.net", false), None, None).unwrap();
        assert_eq!(m.text.as_deref(), Some("with a link https://example.org"));
    }

    #[test]
    fn each_media_kind_is_found_with_its_type() {
        let doc = wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                file_name: Some("invoice.pdf".into()),
                mimetype: Some("application/pdf".into()),
                caption: Some("the invoice".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let video = wa::Message {
            video_message: MessageField::some(wa::message::VideoMessage::default()),
            ..Default::default()
        };
        let audio = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage { ptt: Some(true), ..Default::default() }),
            ..Default::default()
        };
        let sticker = wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage::default()),
            ..Default::default()
        };
        let found = |m: &wa::Message| media_of(m).map(|r| (r.kind, r.mimetype, r.file_name, r.length));
        assert_eq!(found(&image(None)), Some((MediaKind::Image, "image/png".into(), None, Some(1234))));
        assert_eq!(
            found(&doc),
            Some((MediaKind::Document, "application/pdf".into(), Some("invoice.pdf".into()), None))
        );
        assert_eq!(found(&video), Some((MediaKind::Video, "video/mp4".into(), None, None)));
        assert_eq!(found(&audio), Some((MediaKind::Audio, "audio/ogg".into(), None, None)));
        assert_eq!(found(&sticker), Some((MediaKind::Sticker, "image/webp".into(), None, None)));
        assert!(media_of(&text("no media")).is_none());

        let i = info("1@s.whatsapp.net", "1@s.whatsapp.net", false);
        let m = to_inbound(&doc, &i, None, Some(bytes(MediaKind::Document))).unwrap();
        assert_eq!(m.text.as_deref(), Some("the invoice"), "caption becomes the text");
        assert_eq!(m.media.unwrap().kind, MediaKind::Document);
    }

    #[test]
    fn caption_of_an_image() {
        let i = info("1@s.whatsapp.net", "1@s.whatsapp.net", false);
        let m = to_inbound(&image(Some("look")), &i, None, Some(bytes(MediaKind::Image))).unwrap();
        assert_eq!(m.text.as_deref(), Some("look"));
        // Media too large to fetch: still reported as an image, without the file.
        let unfetched = InboundMedia { data: None, ..bytes(MediaKind::Image) };
        let m = to_inbound(&image(None), &i, None, Some(unfetched)).unwrap();
        let media = m.media.unwrap();
        assert!(m.text.is_none() && media.data.is_none());
        assert_eq!(media.kind, MediaKind::Image);
    }

    #[test]
    fn group_message_names_the_participant() {
        let i = info("6281111111111:2@s.whatsapp.net", "120363025246125486@g.us", true);
        let m = to_inbound(&text("hi all"), &i, None, None).unwrap();
        assert!(m.is_group);
        assert_eq!(m.chat, "120363025246125486@g.us");
        assert_eq!(m.sender, "6281111111111@s.whatsapp.net");
    }

    #[test]
    fn lid_sender_becomes_its_phone_number_when_known() {
        let mut i = info("123456789012345@lid", "123456789012345@lid", false);
        // Unknown phone number: the @lid stays.
        let m = to_inbound(&text("x"), &i, phone_from_source(&i.source), None).unwrap();
        assert_eq!(m.sender, "123456789012345@lid");
        assert_eq!(m.chat, "123456789012345@lid");
        // Known through sender_alt (or the LID→PN store, passed the same way).
        i.source.sender_alt = Some("6289999999999@s.whatsapp.net".parse().unwrap());
        let m = to_inbound(&text("x"), &i, phone_from_source(&i.source), None).unwrap();
        assert_eq!(m.sender, "6289999999999@s.whatsapp.net");
        assert_eq!(m.chat, "6289999999999@s.whatsapp.net");
        // In a group the chat stays the group.
        let mut g = info("123456789012345@lid", "120363025246125486@g.us", true);
        g.source.sender_alt = i.source.sender_alt.clone();
        let m = to_inbound(&text("x"), &g, phone_from_source(&g.source), None).unwrap();
        assert_eq!((m.chat.as_str(), m.sender.as_str()), ("120363025246125486@g.us", "6289999999999@s.whatsapp.net"));
        // A phone-number sender is never replaced.
        assert!(phone_from_source(&info("1@s.whatsapp.net", "1@s.whatsapp.net", false).source).is_none());
    }

    #[test]
    fn ephemeral_and_view_once_wrappers_are_unwrapped() {
        let ephemeral = wa::Message {
            ephemeral_message: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(text("disappearing")),
            }),
            ..Default::default()
        };
        let view_once = wa::Message {
            view_once_message_v2: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(image(Some("once"))),
            }),
            ..Default::default()
        };
        let i = info("1@s.whatsapp.net", "1@s.whatsapp.net", false);
        assert_eq!(to_inbound(&ephemeral, &i, None, None).unwrap().text.as_deref(), Some("disappearing"));
        assert_eq!(media_of(&view_once).map(|r| r.kind), Some(MediaKind::Image));
        assert_eq!(to_inbound(&view_once, &i, None, None).unwrap().text.as_deref(), Some("once"));
    }

    #[test]
    fn nothing_to_report_and_own_messages() {
        let reaction = wa::Message {
            reaction_message: MessageField::some(wa::message::ReactionMessage {
                text: Some("👍".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let i = info("1@s.whatsapp.net", "1@s.whatsapp.net", false);
        assert!(to_inbound(&reaction, &i, None, None).is_none());
        assert!(is_reportable(&i));
        let mut own = i.clone();
        own.source.is_from_me = true;
        assert!(!is_reportable(&own));
        let status = info("1@s.whatsapp.net", "status@broadcast", false);
        assert!(!is_reportable(&status));
    }
}
