//! The attachment and device parts of the store suite.

use super::{conv, msg};
use crate::{Attachment, PushSettings, SequencedBatch, Stores};

fn attachment(id: &str, owner: &str, created_at: i64) -> Attachment {
    Attachment {
        id: id.into(),
        owner: owner.into(),
        content_type: "image/png".into(),
        size: 1000,
        created_at,
        uploaded_size: None,
        thumbnail: None,
    }
}

/// Runs the attachment and device checks on one store that already ran the
/// rest of the suite (it uses conversations of its own).
/// The unreferenced attachments at `now`, sorted.
async fn unreferenced(s: &Stores, now: i64, limit: usize) -> Vec<String> {
    let mut ids = s
        .attachments
        .unreferenced_attachments(now, limit)
        .await
        .unwrap();
    ids.sort();
    ids
}

pub async fn run_all(s: &Stores) {
    attachment_records(s).await;
    references_follow_messages(s).await;
    devices_and_push_settings(s).await;
    privacy_settings(s).await;
    usage_per_user_and_day(s).await;
}

pub async fn usage_per_user_and_day(s: &Stores) {
    assert_eq!(s.usage.add_usage("uma", 20_000, 0).await.unwrap(), 0);
    assert_eq!(s.usage.add_usage("uma", 20_000, 100).await.unwrap(), 100);
    assert_eq!(s.usage.add_usage("uma", 20_000, 50).await.unwrap(), 150);
    assert_eq!(s.usage.add_usage("uma", 20_000, -50).await.unwrap(), 100);
    // Each user and day apart.
    assert_eq!(s.usage.add_usage("uma", 20_001, 7).await.unwrap(), 7);
    assert_eq!(s.usage.add_usage("vic", 20_000, 0).await.unwrap(), 0);
    assert_eq!(s.usage.add_usage("uma", 20_000, 0).await.unwrap(), 100);
    // Days before a given one are forgotten, the user's only.
    s.usage.add_usage("uma", 19_990, 5).await.unwrap();
    s.usage.add_usage("vic", 19_990, 9).await.unwrap();
    s.usage.forget_usage_before("uma", 20_001).await.unwrap();
    assert_eq!(s.usage.add_usage("uma", 19_990, 0).await.unwrap(), 0);
    assert_eq!(s.usage.add_usage("uma", 20_000, 0).await.unwrap(), 0);
    assert_eq!(s.usage.add_usage("uma", 20_001, 0).await.unwrap(), 7);
    assert_eq!(s.usage.add_usage("vic", 19_990, 0).await.unwrap(), 9);
    // Forgetting again, or with nothing to forget, is no error.
    s.usage.forget_usage_before("uma", 20_001).await.unwrap();
    s.usage.forget_usage_before("nobody", 20_001).await.unwrap();
}

pub async fn privacy_settings(s: &Stores) {
    use crate::{Audience, PrivacySettings};
    assert_eq!(
        s.devices.privacy("rey").await.unwrap(),
        PrivacySettings::default()
    );
    let hidden = PrivacySettings {
        presence: Audience::Nobody,
        group_adds: Audience::Contacts,
    };
    s.devices.set_privacy("rey", hidden).await.unwrap();
    let contacts = PrivacySettings {
        presence: Audience::Contacts,
        group_adds: Audience::Everyone,
    };
    s.devices.set_privacy("sam", contacts).await.unwrap();
    assert_eq!(s.devices.privacy("rey").await.unwrap(), hidden);
    assert_eq!(
        s.devices
            .privacy_of(&["sam", "nobody-set-this", "rey"])
            .await
            .unwrap(),
        vec![contacts, PrivacySettings::default(), hidden]
    );
    // Replaced whole, and back to the defaults.
    s.devices
        .set_privacy("rey", PrivacySettings::default())
        .await
        .unwrap();
    assert_eq!(
        s.devices.privacy("rey").await.unwrap(),
        PrivacySettings::default()
    );
}

pub async fn attachment_records(s: &Stores) {
    let a = attachment("att-1", "alice", 50);
    s.attachments.put_attachment(&a).await.unwrap();
    s.attachments.put_attachment(&a).await.unwrap();
    assert_eq!(s.attachments.attachment("att-1").await.unwrap(), Some(a));
    assert_eq!(s.attachments.attachment("att-none").await.unwrap(), None);
    s.attachments.set_uploaded("att-1", 900).await.unwrap();
    s.attachments
        .set_thumbnail("att-1", "image/jpeg")
        .await
        .unwrap();
    s.attachments.set_uploaded("att-none", 1).await.unwrap();
    s.attachments
        .set_thumbnail("att-none", "image/jpeg")
        .await
        .unwrap();
    let stored = s.attachments.attachment("att-1").await.unwrap().unwrap();
    assert_eq!(stored.uploaded_size, Some(900));
    assert_eq!(stored.thumbnail.as_deref(), Some("image/jpeg"));
    assert_eq!(s.attachments.attachment("att-none").await.unwrap(), None);
    s.attachments.delete_attachment("att-1").await.unwrap();
    s.attachments.delete_attachment("att-1").await.unwrap();
    assert_eq!(s.attachments.attachment("att-1").await.unwrap(), None);
}

pub async fn references_follow_messages(s: &Stores) {
    for (id, created) in [("ra", 100), ("rb", 100), ("rc", 100), ("rd", 300)] {
        s.attachments
            .put_attachment(&attachment(id, "alice", created))
            .await
            .unwrap();
    }
    let mut first = conv("ar", &["alice", "bob"], 2);
    first.applied_offset = 2;
    let mut m1 = msg("ar", 1, "alice", 1000);
    m1.attachments = vec!["ra".into(), "rb".into()];
    let mut m2 = msg("ar", 2, "alice", 5000);
    m2.attachments = vec!["rb".into()];
    let batch = SequencedBatch {
        conversations: vec![first],
        messages: vec![m1.clone(), m2],
        ..Default::default()
    };
    s.sequencer.apply(batch.clone()).await.unwrap();
    s.sequencer.apply(batch).await.unwrap();
    assert_eq!(
        s.attachments.attachment_refs("ra").await.unwrap(),
        vec![("ar".to_string(), 1)]
    );
    assert_eq!(
        s.attachments.attachment_refs("rb").await.unwrap(),
        vec![("ar".to_string(), 1), ("ar".to_string(), 2)]
    );
    assert!(s
        .attachments
        .attachment_refs("rc")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        unreferenced(s, 200, 100).await,
        vec!["rc".to_string()],
        "rd is too young"
    );
    assert_eq!(
        s.attachments
            .unreferenced_attachments(1000, 1)
            .await
            .unwrap()
            .len(),
        1,
        "the limit holds"
    );

    // Deleted for everyone: the message is written again without attachments.
    let mut deleted = conv("ar", &["alice", "bob"], 2);
    deleted.applied_offset = 3;
    let mut gone = m1;
    gone.attachments.clear();
    gone.body.clear();
    gone.deleted = true;
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![deleted],
            messages: vec![gone],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(s
        .attachments
        .attachment_refs("ra")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.attachments.attachment_refs("rb").await.unwrap(),
        vec![("ar".to_string(), 2)]
    );
    assert_eq!(
        unreferenced(s, 200, 100).await,
        vec!["ra".to_string(), "rc".to_string()]
    );

    // Retention removes seq 2 (ts 5000) and with it the last reference to rb.
    s.messages.expire(6000).await.unwrap();
    assert!(s
        .attachments
        .attachment_refs("rb")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        unreferenced(s, 1000, 100).await,
        vec!["ra", "rb", "rc", "rd"]
    );
    for id in ["ra", "rb", "rc", "rd"] {
        s.attachments.delete_attachment(id).await.unwrap();
    }
    assert!(s
        .attachments
        .unreferenced_attachments(i64::MAX, 100)
        .await
        .unwrap()
        .is_empty());
}

pub async fn devices_and_push_settings(s: &Stores) {
    assert!(s.devices.devices("pat").await.unwrap().is_empty());
    assert_eq!(
        s.devices.push_settings("pat").await.unwrap(),
        PushSettings::default()
    );
    s.devices.register_device("pat", "phone", 10).await.unwrap();
    s.devices
        .register_device("pat", "laptop", 11)
        .await
        .unwrap();
    s.devices.register_device("pat", "phone", 5).await.unwrap();
    s.devices
        .register_device("quinn", "tablet", 5)
        .await
        .unwrap();
    assert_eq!(
        s.devices.devices("pat").await.unwrap(),
        vec!["laptop", "phone"]
    );
    // A time only moves forward.
    assert_eq!(
        s.devices.device_seen("pat", "phone").await.unwrap(),
        Some(10)
    );
    assert_eq!(
        s.devices.device_seen("pat", "laptop").await.unwrap(),
        Some(11)
    );
    assert_eq!(s.devices.device_seen("pat", "tablet").await.unwrap(), None);
    s.devices.register_device("pat", "phone", 12).await.unwrap();
    assert_eq!(
        s.devices.device_seen("pat", "phone").await.unwrap(),
        Some(12)
    );
    s.devices.set_previews("pat", false).await.unwrap();
    s.devices.set_muted("pat", "c2", true).await.unwrap();
    s.devices.set_muted("pat", "c1", true).await.unwrap();
    s.devices.set_muted("pat", "c1", true).await.unwrap();
    s.devices.set_muted("pat", "c3", false).await.unwrap();
    assert_eq!(
        s.devices.push_settings("pat").await.unwrap(),
        PushSettings {
            previews: false,
            muted: vec!["c1".into(), "c2".into()],
        }
    );
    s.devices.set_muted("pat", "c2", false).await.unwrap();
    s.devices.set_previews("pat", true).await.unwrap();
    assert_eq!(
        s.devices.push_settings("pat").await.unwrap(),
        PushSettings {
            previews: true,
            muted: vec!["c1".into()],
        }
    );
    assert_eq!(
        s.devices.push_settings("quinn").await.unwrap(),
        PushSettings::default()
    );
}
