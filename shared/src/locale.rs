//! The shopper's language: chosen from `locale`, then `Accept-Language`, then English; the
//! checkout page's words in each; and amounts as shoppers read them (NT$590, ¥1,000,
//! ฿100.00).

use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    ZhTw,
    ZhCn,
    Ja,
    Th,
}

impl Locale {
    pub const fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhTw => "zh-TW",
            Locale::ZhCn => "zh-CN",
            Locale::Ja => "ja",
            Locale::Th => "th",
        }
    }

    /// One language tag (`zh-Hant`, `ja-JP`, `th`), if Till speaks it.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" => Some(Locale::En),
            "ja" => Some(Locale::Ja),
            "th" => Some(Locale::Th),
            "zh" if tag.contains("tw")
                || tag.contains("hk")
                || tag.contains("mo")
                || tag.contains("hant") =>
            {
                Some(Locale::ZhTw)
            }
            "zh" => Some(Locale::ZhCn),
            _ => None,
        }
    }

    /// The session's `locale` if set (and not `auto`), else the first language of
    /// `Accept-Language` by weight that Till speaks, else English.
    pub fn negotiate(explicit: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(locale) = explicit.filter(|l| *l != "auto").and_then(Locale::from_tag) {
            return locale;
        }
        let mut candidates: Vec<(f32, Locale)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let locale = Locale::from_tag(pieces.next()?)?;
                let weight = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((weight, locale))
            })
            .collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.first().map_or(Locale::En, |c| c.1)
    }

    /// A word or sentence of the checkout pages.
    pub fn text(self, key: Text) -> &'static str {
        let [en, zh_tw, zh_cn, ja, th] = key.translations();
        match self {
            Locale::En => en,
            Locale::ZhTw => zh_tw,
            Locale::ZhCn => zh_cn,
            Locale::Ja => ja,
            Locale::Th => th,
        }
    }
}

macro_rules! texts {
    ($($key:ident => [$en:literal, $tw:literal, $cn:literal, $ja:literal, $th:literal];)+) => {
        /// Every piece of text the checkout pages show.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text { $($key,)+ }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$key,)+];

            const fn translations(self) -> [&'static str; 5] {
                match self { $(Text::$key => [$en, $tw, $cn, $ja, $th],)+ }
            }
        }
    };
}

texts! {
    Pay => ["Pay", "付款", "支付", "支払う", "ชำระเงิน"];
    Subscribe => ["Subscribe", "訂閱", "订阅", "申し込む", "สมัครสมาชิก"];
    SaveCard => ["Save card", "儲存卡片", "保存卡片", "カードを保存", "บันทึกบัตร"];
    Email => ["Email", "電子郵件", "电子邮件", "メールアドレス", "อีเมล"];
    Name => ["Name", "姓名", "姓名", "氏名", "ชื่อ"];
    CardNumber => ["Card number", "卡號", "卡号", "カード番号", "หมายเลขบัตร"];
    Expiry => ["Expiry (MM / YY)", "有效期限 (MM / YY)", "有效期 (MM / YY)", "有効期限 (MM / YY)", "วันหมดอายุ (MM / YY)"];
    Cvc => ["CVC", "安全碼", "安全码", "セキュリティコード", "CVC"];
    Total => ["Total", "總計", "总计", "合計", "ยอดรวม"];
    Discount => ["Discount", "折扣", "折扣", "割引", "ส่วนลด"];
    PromotionCode => ["Promotion code", "優惠碼", "优惠码", "プロモーションコード", "โค้ดส่วนลด"];
    InvalidPromotion => ["This promotion code cannot be used for this purchase.", "此優惠碼無法用於此筆購買。", "此优惠码无法用于此次购买。", "このプロモーションコードはこの購入には使えません。", "ไม่สามารถใช้โค้ดส่วนลดนี้กับการซื้อนี้ได้"];
    PromotionWithdrawn => ["This promotion code can no longer be used, so it was removed and nothing was charged. Check the new total and pay again.", "此優惠碼已無法使用,已為您移除,且未收取任何款項。請確認新的總計後再付款。", "此优惠码已无法使用,已为您移除,且未收取任何款项。请确认新的总计后再支付。", "このプロモーションコードは使えなくなったため取り消しました。請求は行われていません。新しい合計をご確認のうえ、もう一度お支払いください。", "โค้ดส่วนลดนี้ใช้ไม่ได้แล้ว จึงถูกนำออกและยังไม่มีการเรียกเก็บเงิน โปรดตรวจสอบยอดรวมใหม่แล้วชำระเงินอีกครั้ง"];
    TotalChanged => ["The total changed while you were paying, and nothing was charged. Check the new total and pay again.", "您付款時總計已變更,且未收取任何款項。請確認新的總計後再付款。", "您支付时总计已变更,且未收取任何款项。请确认新的总计后再支付。", "お支払い中に合計が変わったため、請求は行われていません。新しい合計をご確認のうえ、もう一度お支払いください。", "ยอดรวมเปลี่ยนไประหว่างที่คุณชำระเงิน และยังไม่มีการเรียกเก็บเงิน โปรดตรวจสอบยอดรวมใหม่แล้วชำระเงินอีกครั้ง"];
    TooManyPromotionCodes => ["Too many promotion codes were tried. Try again later, or pay without a code.", "嘗試的優惠碼次數過多。請稍後再試,或不使用優惠碼直接付款。", "尝试的优惠码次数过多。请稍后再试,或不使用优惠码直接支付。", "試したプロモーションコードが多すぎます。しばらくしてからもう一度お試しいただくか、コードなしでお支払いください。", "ลองใช้โค้ดส่วนลดหลายครั้งเกินไป โปรดลองใหม่ภายหลัง หรือชำระเงินโดยไม่ใช้โค้ด"];
    Apply => ["Apply", "套用", "使用", "適用", "ใช้โค้ด"];
    Cancel => ["Cancel and return", "取消並返回", "取消并返回", "キャンセルして戻る", "ยกเลิกและกลับ"];
    Optional => ["optional", "選填", "选填", "任意", "ไม่บังคับ"];
    BillingAddress => ["Billing address", "帳單地址", "账单地址", "請求先住所", "ที่อยู่สำหรับออกใบแจ้งหนี้"];
    AddressLine => ["Address", "地址", "地址", "住所", "ที่อยู่"];
    City => ["City", "城市", "城市", "市区町村", "เมือง"];
    PostalCode => ["Postal code", "郵遞區號", "邮政编码", "郵便番号", "รหัสไปรษณีย์"];
    Country => ["Country", "國家/地區", "国家/地区", "国", "ประเทศ"];
    TestMode => ["Test mode: use card 4242 4242 4242 4242", "測試模式:請使用卡號 4242 4242 4242 4242", "测试模式:请使用卡号 4242 4242 4242 4242", "テストモード:カード 4242 4242 4242 4242 を使用", "โหมดทดสอบ: ใช้บัตร 4242 4242 4242 4242"];
    CardDeclined => ["Your card was declined. Try another card.", "您的卡片遭到拒絕,請改用其他卡片。", "您的卡被拒绝,请换一张卡。", "カードが拒否されました。別のカードをお試しください。", "บัตรของคุณถูกปฏิเสธ โปรดลองบัตรอื่น"];
    InsufficientFunds => ["Your card has insufficient funds.", "您的卡片餘額不足。", "您的卡余额不足。", "カードの残高が不足しています。", "ยอดเงินในบัตรไม่เพียงพอ"];
    ExpiredCard => ["Your card has expired.", "您的卡片已過期。", "您的卡已过期。", "カードの有効期限が切れています。", "บัตรของคุณหมดอายุแล้ว"];
    IncorrectCvc => ["The security code is incorrect.", "安全碼不正確。", "安全码不正确。", "セキュリティコードが正しくありません。", "รหัสความปลอดภัยไม่ถูกต้อง"];
    ProcessingError => ["We could not process your card. Please try again.", "無法處理您的卡片,請再試一次。", "无法处理您的卡,请重试。", "カードを処理できませんでした。もう一度お試しください。", "ไม่สามารถดำเนินการกับบัตรของคุณได้ โปรดลองอีกครั้ง"];
    TryAgainShortly => ["We could not take your payment just now, and nothing was charged. Please try again in a moment.", "目前無法處理您的付款,且未收取任何款項。請稍後再試一次。", "目前无法处理您的付款,且未收取任何款项。请稍后再试。", "ただいまお支払いを処理できませんでした。請求は行われていません。しばらくしてからもう一度お試しください。", "ขณะนี้ไม่สามารถรับชำระเงินของคุณได้ และยังไม่มีการเรียกเก็บเงิน โปรดลองอีกครั้งในอีกสักครู่"];
    ConfirmingPayment => ["Your payment went through. We are confirming your order: this page updates in a few seconds. Please do not pay again.", "您的付款已成功,我們正在確認您的訂單,此頁面將於幾秒後更新。請勿重複付款。", "您的付款已成功,我们正在确认您的订单,此页面将在几秒后更新。请勿重复支付。", "お支払いは完了しました。ご注文を確認しています。このページは数秒後に更新されます。もう一度お支払いにならないでください。", "การชำระเงินของคุณสำเร็จแล้ว เรากำลังยืนยันคำสั่งซื้อ หน้านี้จะอัปเดตในไม่กี่วินาที โปรดอย่าชำระเงินซ้ำ"];
    InvalidNumber => ["This card number is not valid.", "卡號無效。", "卡号无效。", "カード番号が正しくありません。", "หมายเลขบัตรไม่ถูกต้อง"];
    InvalidExpiry => ["The expiry date is not valid.", "有效期限無效。", "有效期无效。", "有効期限が正しくありません。", "วันหมดอายุไม่ถูกต้อง"];
    InvalidCvc => ["The security code is not valid.", "安全碼無效。", "安全码无效。", "セキュリティコードが正しくありません。", "รหัสความปลอดภัยไม่ถูกต้อง"];
    InvalidEmail => ["Enter a valid email address.", "請輸入有效的電子郵件。", "请输入有效的电子邮件。", "有効なメールアドレスを入力してください。", "โปรดกรอกอีเมลที่ถูกต้อง"];
    FieldRequired => ["This field is required.", "此欄位為必填。", "此字段为必填项。", "この項目は必須です。", "จำเป็นต้องกรอกช่องนี้"];
    TooManyAttempts => ["Too many failed attempts. This checkout is locked.", "失敗次數過多,此結帳已鎖定。", "失败次数过多,此结账已锁定。", "失敗回数が多すぎるため、この決済はロックされました。", "ล้มเหลวหลายครั้งเกินไป การชำระเงินนี้ถูกล็อก"];
    LinkInactive => ["This payment link is no longer active.", "此付款連結已停用。", "此支付链接已停用。", "この支払いリンクは無効になりました。", "ลิงก์ชำระเงินนี้ไม่สามารถใช้งานได้แล้ว"];
    LinkExhausted => ["This offer is sold out.", "此商品已售完。", "此商品已售罄。", "この商品は完売しました。", "สินค้านี้ขายหมดแล้ว"];
    LinkNotFound => ["This payment link does not exist.", "此付款連結不存在。", "此支付链接不存在。", "この支払いリンクは存在しません。", "ไม่พบลิงก์ชำระเงินนี้"];
    TooManyCheckouts => ["Too many checkouts were started from your network. Please try again in a minute.", "您的網路開啟的結帳次數過多,請於一分鐘後再試一次。", "您的网络发起的结账次数过多,请一分钟后再试。", "お使いのネットワークから開始された決済が多すぎます。1分後にもう一度お試しください。", "มีการเริ่มชำระเงินจากเครือข่ายของคุณมากเกินไป โปรดลองอีกครั้งในอีกหนึ่งนาที"];
    SessionExpired => ["This checkout has expired.", "此結帳已過期。", "此结账已过期。", "この決済は期限切れです。", "การชำระเงินนี้หมดอายุแล้ว"];
    PaymentComplete => ["Payment complete. Thank you!", "付款完成,謝謝您!", "支付完成,谢谢!", "お支払いが完了しました。ありがとうございます!", "ชำระเงินเรียบร้อย ขอบคุณ!"];
    FormTooLarge => ["This form is larger than a checkout form can be.", "此表單超過結帳表單的大小上限。", "此表单超过结账表单的大小上限。", "このフォームは決済フォームの上限を超えています。", "แบบฟอร์มนี้มีขนาดใหญ่เกินกว่าที่แบบฟอร์มชำระเงินรับได้"];
    FormMalformed => ["This form could not be read. Reload the page and try again.", "無法讀取此表單,請重新載入頁面後再試一次。", "无法读取此表单,请重新加载页面后重试。", "フォームを読み取れませんでした。ページを再読み込みしてもう一度お試しください。", "ไม่สามารถอ่านแบบฟอร์มนี้ได้ โปรดโหลดหน้าใหม่แล้วลองอีกครั้ง"];
    ChallengeTitle => ["Confirm this payment with your bank (test)", "請向銀行確認此筆付款(測試)", "请向银行确认此笔付款(测试)", "銀行でこの支払いを確認してください(テスト)", "ยืนยันการชำระเงินกับธนาคาร (ทดสอบ)"];
    ChallengeComplete => ["Complete", "完成驗證", "完成验证", "認証する", "ยืนยัน"];
    ChallengeFail => ["Fail", "驗證失敗", "验证失败", "認証に失敗", "ล้มเหลว"];
    JavaScriptNeeded => ["JavaScript is needed to pay by card on this page: your card is entered in the card processor's own secure fields.", "此頁面需要啟用 JavaScript 才能以卡片付款:卡號會輸入在發卡處理商自己的安全欄位中。", "此页面需要启用 JavaScript 才能用银行卡支付:卡号会输入在支付处理商自己的安全字段中。", "このページでカード払いをするには JavaScript が必要です。カード番号は決済代行会社の安全な入力欄に入力します。", "ต้องเปิดใช้ JavaScript เพื่อชำระด้วยบัตรในหน้านี้ โดยกรอกบัตรในช่องที่ปลอดภัยของผู้ให้บริการชำระเงิน"];
    BankCheck => ["Confirm this payment with your bank", "請向銀行確認此筆付款", "请向银行确认此笔付款", "銀行でこのお支払いを確認してください", "ยืนยันการชำระเงินนี้กับธนาคารของคุณ"];
    DashboardSignIn => ["Sign in to the Till dashboard", "登入 Till 後台", "登录 Till 后台", "Till ダッシュボードにサインイン", "ลงชื่อเข้าใช้แดชบอร์ด Till"];
    DashboardSignInWhy => ["This one-time link signs this browser in to your dashboard. Continue only if you asked for it.", "此一次性連結會讓這個瀏覽器登入您的後台。只有在您自己要求時才繼續。", "此一次性链接会让这个浏览器登录您的后台。只有在您自己请求时才继续。", "このワンタイムリンクで、このブラウザがダッシュボードにサインインします。ご自身で依頼した場合のみ続行してください。", "ลิงก์แบบใช้ครั้งเดียวนี้จะลงชื่อเข้าใช้แดชบอร์ดของคุณในเบราว์เซอร์นี้ ดำเนินการต่อเฉพาะเมื่อคุณขอเอง"];
    LoginLinkUsed => ["This sign-in link was used already or has expired. Ask for a new one.", "此登入連結已使用過或已過期,請重新取得。", "此登录链接已使用过或已过期,请重新获取。", "このサインインリンクは使用済みか期限切れです。新しいリンクを取得してください。", "ลิงก์ลงชื่อเข้าใช้นี้ถูกใช้ไปแล้วหรือหมดอายุ โปรดขอลิงก์ใหม่"];
    Receipt => ["Receipt", "收據", "收据", "領収書", "ใบเสร็จรับเงิน"];
    ReceiptFrom => ["Receipt from", "收據開立者", "收据开具方", "発行元", "ใบเสร็จจาก"];
    ReceiptNumber => ["Receipt number", "收據編號", "收据编号", "領収書番号", "เลขที่ใบเสร็จ"];
    ReceiptOrder => ["Order", "訂單", "订单", "注文番号", "คำสั่งซื้อ"];
    ReceiptDate => ["Date paid", "付款日期", "支付日期", "お支払い日", "วันที่ชำระ"];
    ReceiptCard => ["Payment method", "付款方式", "支付方式", "お支払い方法", "วิธีการชำระเงิน"];
    ReceiptSubtotal => ["Subtotal", "小計", "小计", "小計", "ยอดรวมย่อย"];
    ReceiptPaid => ["Amount paid", "付款金額", "支付金额", "お支払い金額", "จำนวนเงินที่ชำระ"];
    ReceiptRefunded => ["Refunded", "已退款", "已退款", "返金済み", "คืนเงินแล้ว"];
    ReceiptNet => ["Net paid", "實付淨額", "实付净额", "差引お支払い額", "ยอดชำระสุทธิ"];
    ReceiptPeriod => ["Subscription period", "訂閱期間", "订阅周期", "ご利用期間", "รอบการสมัครสมาชิก"];
    ReceiptDisputed => ["This payment is disputed.", "此筆付款有爭議。", "此笔付款存在争议。", "この支払いには異議が申し立てられています。", "การชำระเงินนี้มีข้อโต้แย้ง"];
    ReceiptTestMode => ["Test mode: no money moved.", "測試模式:未實際收款。", "测试模式:未实际收款。", "テストモード:実際の請求はありません。", "โหมดทดสอบ: ไม่มีการเรียกเก็บเงินจริง"];
    ReceiptNotFound => ["This receipt does not exist.", "此收據不存在。", "此收据不存在。", "この領収書は存在しません。", "ไม่พบใบเสร็จนี้"];
    ReceiptBilledTo => ["Billed to", "付款人", "付款人", "請求先", "เรียกเก็บเงินจาก"];
    PortalTitle => ["Your subscriptions and billing", "您的訂閱與帳務", "您的订阅与账单", "ご契約とお支払い", "การสมัครสมาชิกและการชำระเงินของคุณ"];
    PortalSubscriptions => ["Subscriptions", "訂閱", "订阅", "ご契約", "การสมัครสมาชิก"];
    PortalNoSubscriptions => ["You have no subscriptions.", "您目前沒有任何訂閱。", "您目前没有任何订阅。", "ご契約中のプランはありません。", "คุณยังไม่มีการสมัครสมาชิก"];
    PortalNextPayment => ["Next payment", "下次付款", "下次付款", "次回のお支払い", "การชำระเงินครั้งถัดไป"];
    PortalEndsOn => ["Ends on", "結束日期", "结束日期", "終了日", "สิ้นสุดวันที่"];
    PortalEndedOn => ["Ended on", "結束於", "结束于", "終了日", "สิ้นสุดเมื่อ"];
    PortalCancel => ["Cancel subscription", "取消訂閱", "取消订阅", "解約する", "ยกเลิกการสมัครสมาชิก"];
    PortalCancelWhat => ["Your subscription stays active until the end of the current period, then ends. Nothing more is charged.", "您的訂閱會持續到本期結束後才終止,之後不會再收取任何費用。", "您的订阅会持续到本期结束后才终止,之后不会再收取任何费用。", "現在の期間の終わりまではご利用いただけ、その後に終了します。以降の請求はありません。", "การสมัครสมาชิกจะยังใช้งานได้จนถึงสิ้นรอบปัจจุบันแล้วจึงสิ้นสุด และจะไม่มีการเรียกเก็บเงินเพิ่ม"];
    PortalKeep => ["Keep my subscription", "保留我的訂閱", "保留我的订阅", "解約しない", "เก็บการสมัครสมาชิกไว้"];
    PortalResume => ["Resume subscription", "恢復訂閱", "恢复订阅", "契約を再開する", "กลับมาใช้การสมัครสมาชิก"];
    PortalResubscribe => ["Subscribe again", "重新訂閱", "重新订阅", "再度申し込む", "สมัครสมาชิกอีกครั้ง"];
    PortalResubscribeWhat => ["A new subscription on the same plan starts now, and its first period is charged now to your current card.", "將以相同方案立即開始新的訂閱,並立即以您目前的卡片收取第一期費用。", "将以相同方案立即开始新的订阅,并立即用您当前的卡片收取第一期费用。", "同じプランで新しい契約を今すぐ開始し、最初の期間分を現在のカードで今お支払いいただきます。", "การสมัครสมาชิกใหม่ด้วยแผนเดิมจะเริ่มทันที และเรียกเก็บเงินรอบแรกจากบัตรปัจจุบันของคุณทันที"];
    PortalSwitch => ["Change plan", "變更方案", "变更方案", "プランを変更", "เปลี่ยนแผน"];
    PortalSwitchWhen => ["The new plan starts with your next period; the current one is not prorated.", "新方案將於下一期開始生效,本期不按比例計費。", "新方案将于下一期开始生效,本期不按比例计费。", "新しいプランは次の期間から適用されます。現在の期間の日割り計算はありません。", "แผนใหม่จะเริ่มในรอบถัดไป โดยไม่คิดตามสัดส่วนสำหรับรอบปัจจุบัน"];
    PortalCurrentPlan => ["Current plan", "目前方案", "当前方案", "現在のプラン", "แผนปัจจุบัน"];
    PortalNoOtherPlans => ["There is no other plan to switch to.", "沒有其他可變更的方案。", "没有其他可变更的方案。", "変更できる他のプランはありません。", "ไม่มีแผนอื่นให้เปลี่ยน"];
    PortalUpdateCard => ["Update card", "更新卡片", "更新卡片", "カードを更新", "อัปเดตบัตร"];
    PortalNoCard => ["No card on file.", "尚未儲存卡片。", "尚未保存卡片。", "登録済みのカードはありません。", "ยังไม่มีบัตรที่บันทึกไว้"];
    PortalCardRetries => ["An overdue payment is charged to the new card at once.", "逾期未付的款項會立即以新卡片扣款。", "逾期未付的款项会立即用新卡扣款。", "未払いのお支払いは新しいカードですぐに請求されます。", "ยอดค้างชำระจะถูกเรียกเก็บจากบัตรใหม่ทันที"];
    PortalHistory => ["Billing history", "帳務紀錄", "账单记录", "お支払い履歴", "ประวัติการชำระเงิน"];
    PortalNoHistory => ["No payments yet.", "尚無付款紀錄。", "尚无付款记录。", "お支払いはまだありません。", "ยังไม่มีการชำระเงิน"];
    PortalPaymentFailed => ["Payment failed", "付款失敗", "付款失败", "お支払い失敗", "ชำระเงินไม่สำเร็จ"];
    PortalPaymentDue => ["Payment due", "待付款", "待付款", "お支払い待ち", "รอชำระเงิน"];
    PortalDetails => ["Billing details", "帳單資訊", "账单信息", "請求先情報", "ข้อมูลการเรียกเก็บเงิน"];
    PortalDetailsWhat => ["Your receipts show these details.", "您的收據會顯示這些資訊。", "您的收据会显示这些信息。", "領収書にはこの情報が記載されます。", "ใบเสร็จของคุณจะแสดงข้อมูลเหล่านี้"];
    PortalSave => ["Save", "儲存", "保存", "保存", "บันทึก"];
    PortalToOverview => ["Back to your subscriptions", "返回您的訂閱", "返回您的订阅", "ご契約一覧に戻る", "กลับไปที่การสมัครสมาชิกของคุณ"];
    PortalBack => ["Return to", "返回", "返回", "戻る:", "กลับไปที่"];
    PortalSaved => ["Done: your change is saved.", "完成:已儲存您的變更。", "完成:已保存您的更改。", "変更を保存しました。", "เรียบร้อย: บันทึกการเปลี่ยนแปลงแล้ว"];
    PortalRefused => ["That change could not be made.", "無法完成這項變更。", "无法完成这项更改。", "この変更はできませんでした。", "ไม่สามารถทำการเปลี่ยนแปลงนี้ได้"];
    PortalLinkUsed => ["This portal link has expired or was used already. Open the portal again from the site you came from.", "此管理連結已過期或已使用過,請從原網站重新開啟。", "此管理链接已过期或已使用过,请从原网站重新打开。", "このポータルのリンクは期限切れか使用済みです。元のサイトからもう一度開いてください。", "ลิงก์พอร์ทัลนี้หมดอายุหรือถูกใช้ไปแล้ว โปรดเปิดพอร์ทัลอีกครั้งจากเว็บไซต์เดิม"];
    PortalSignOut => ["Sign out", "登出", "退出", "サインアウト", "ออกจากระบบ"];
    PortalSignedOut => ["You are signed out of the portal.", "您已登出此管理頁面。", "您已退出此管理页面。", "ポータルからサインアウトしました。", "คุณออกจากพอร์ทัลแล้ว"];
    PortalNotYours => ["This subscription is not one of yours.", "此訂閱不屬於您。", "此订阅不属于您。", "このご契約はお客様のものではありません。", "การสมัครสมาชิกนี้ไม่ใช่ของคุณ"];
    StateActive => ["Active", "有效", "有效", "有効", "ใช้งานอยู่"];
    StateTrialing => ["Free trial", "免費試用中", "免费试用中", "無料トライアル中", "ทดลองใช้ฟรี"];
    StatePastDue => ["Payment overdue", "付款逾期", "付款逾期", "お支払い遅延", "ค้างชำระ"];
    StateUnpaid => ["Unpaid", "未付款", "未付款", "未払い", "ยังไม่ชำระ"];
    StateIncomplete => ["Incomplete", "未完成", "未完成", "未完了", "ไม่สมบูรณ์"];
    StateCanceled => ["Canceled", "已取消", "已取消", "解約済み", "ยกเลิกแล้ว"];
    StateCompleted => ["Completed", "已完成", "已完成", "完了", "เสร็จสิ้น"];
    EveryMinute => ["minute", "分鐘", "分钟", "分", "นาที"];
    EveryHour => ["hour", "小時", "小时", "時間", "ชั่วโมง"];
    EveryDay => ["day", "天", "天", "日", "วัน"];
    EveryWeek => ["week", "週", "周", "週", "สัปดาห์"];
    EveryMonth => ["month", "月", "月", "月", "เดือน"];
    EveryYear => ["year", "年", "年", "年", "ปี"];
    Minutes => ["minutes", "分鐘", "分钟", "分", "นาที"];
    Hours => ["hours", "小時", "小时", "時間", "ชั่วโมง"];
    Days => ["days", "天", "天", "日間", "วัน"];
    Weeks => ["weeks", "週", "周", "週間", "สัปดาห์"];
    Months => ["months", "個月", "个月", "か月", "เดือน"];
    Years => ["years", "年", "年", "年", "ปี"];
}

/// The amount as a shopper reads it: the currency's symbol, thousands grouped, as many
/// decimals as the currency has (NT$590, ¥1,000, ฿100.00, HK$1,234.50).
pub fn format_money(money: Money) -> String {
    let currency = money.currency();
    let decimal = money.to_decimal_string();
    let (whole, fraction) = decimal
        .split_once('.')
        .map_or((decimal.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{}{grouped}.{fraction}", currency.symbol()),
        None => format!("{}{grouped}", currency.symbol()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn explicit_locale_wins_then_accept_language_by_weight() {
        assert_eq!(Locale::negotiate(Some("ja"), Some("th")), Locale::Ja);
        assert_eq!(Locale::negotiate(Some("auto"), Some("th")), Locale::Th);
        assert_eq!(
            Locale::negotiate(None, Some("fr;q=0.9, zh-TW;q=0.8, ja;q=0.5")),
            Locale::ZhTw
        );
        assert_eq!(Locale::negotiate(None, Some("zh-Hant-HK")), Locale::ZhTw);
        assert_eq!(
            Locale::negotiate(None, Some("zh-CN,zh;q=0.9")),
            Locale::ZhCn
        );
        assert_eq!(Locale::negotiate(None, Some("de-DE")), Locale::En);
        assert_eq!(Locale::negotiate(None, None), Locale::En);
    }

    #[test]
    fn every_text_exists_in_every_language() {
        for text in Text::ALL {
            for locale in [
                Locale::En,
                Locale::ZhTw,
                Locale::ZhCn,
                Locale::Ja,
                Locale::Th,
            ] {
                assert!(!locale.text(*text).is_empty(), "{text:?} in {locale:?}");
            }
        }
    }

    #[test]
    fn amounts_read_as_shoppers_expect() {
        let m = |amount, currency| format_money(Money::from_minor(amount, currency).unwrap());
        assert_eq!(m(590, Currency::Twd), "NT$590");
        assert_eq!(m(1000, Currency::Jpy), "¥1,000");
        assert_eq!(m(10000, Currency::Thb), "฿100.00");
        assert_eq!(m(123450, Currency::Hkd), "HK$1,234.50");
        assert_eq!(m(1234, Currency::Usd), "$12.34");
        assert_eq!(m(123456789, Currency::Krw), "₩123,456,789");
        assert_eq!(m(5, Currency::Usd), "$0.05");
    }
}
