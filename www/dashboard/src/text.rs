//! Every word the dashboard shows, in one place: English and 繁體中文 (Taiwan). Another
//! language is one more column here (the checkout page's other locales can follow).

use leptos::prelude::*;

/// The dashboard's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhTw,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhTw];

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhTw => "zh-TW",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhTw => "繁體中文",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::ZhTw)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

macro_rules! texts {
    ($($key:ident => $en:literal, $zh:literal;)+) => {
        /// A string of the dashboard.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key,)+ }

        impl T {
            pub fn of(self, lang: Lang) -> &'static str {
                match lang {
                    Lang::En => match self { $(T::$key => $en,)+ },
                    Lang::ZhTw => match self { $(T::$key => $zh,)+ },
                }
            }
        }
    };
}

texts! {
    Dashboard => "Dashboard", "後台";
    Loading => "Loading…", "載入中…";
    TestMode => "Test mode: nothing here moves real money. Sign in with a live key for the live view.", "測試模式:此處的一切都不會動用真實款項。以正式金鑰登入即可進入正式環境。";
    LiveMode => "Live", "正式";
    SignIn => "Sign in", "登入";
    SignInTitle => "Sign in to your dashboard", "登入您的後台";
    SignInHelp => "Paste a secret key (sk_test_… or sk_live_…), or open a one-time sign-in link. The key is sent once and never kept in this browser.", "貼上秘密金鑰(sk_test_… 或 sk_live_…),或開啟一次性登入連結。金鑰只送出一次,不會保存在此瀏覽器。";
    SecretKey => "Secret key", "秘密金鑰";
    SignOut => "Sign out", "登出";
    Language => "Language", "語言";
    Menu => "Sections", "功能選單";
    Home => "Home", "首頁";
    Products => "Products", "商品";
    Links => "Payment links", "付款連結";
    Sales => "Sales", "銷售";
    Customers => "Customers", "顧客";
    Subscriptions => "Subscriptions", "訂閱";
    PromotionCodes => "Promotion codes", "優惠碼";
    Developers => "Developers", "開發者";
    Settings => "Settings", "設定";
    Last7 => "Last 7 days", "最近 7 天";
    Last30 => "Last 30 days", "最近 30 天";
    Views => "Views", "瀏覽";
    SessionsWord => "Checkouts", "結帳";
    Paid => "Paid", "已付款";
    Conversion => "Conversion", "轉換率";
    Revenue => "Revenue", "營收";
    Date => "Day", "日期";
    LatestPayments => "Latest payments", "最新付款";
    ChartTitle => "Views, checkouts and paid per day", "每日瀏覽、結帳與付款";
    Name => "Name", "名稱";
    Description => "Description", "說明";
    Price => "Price", "價格";
    Amount => "Amount", "金額";
    Currency => "Currency", "幣別";
    PriceType => "Billing", "計費方式";
    OneTime => "One-time", "單次";
    Recurring => "Recurring", "定期";
    Interval => "Every", "週期";
    Day => "day", "天";
    Week => "week", "週";
    Month => "month", "月";
    Year => "year", "年";
    Status => "Status", "狀態";
    Active => "Active", "啟用中";
    Inactive => "Inactive", "已停用";
    Created => "Created", "建立時間";
    Create => "Create", "建立";
    Save => "Save", "儲存";
    Archive => "Archive", "封存";
    Activate => "Activate", "啟用";
    Deactivate => "Deactivate", "停用";
    NewProduct => "New product", "新增商品";
    EditProduct => "Edit product", "編輯商品";
    NewLink => "New payment link", "新增付款連結";
    NothingYet => "Nothing here yet.", "目前沒有資料。";
    More => "Load more", "載入更多";
    Raw => "As the API answers it", "API 回傳的原始資料";
    Copy => "Copy", "複製";
    Copied => "Copied", "已複製";
    LinkUrl => "Link URL", "連結網址";
    QrCode => "QR code", "QR 碼";
    QrAlt => "QR code of the payment link's URL", "付款連結網址的 QR 碼";
    DownloadQr => "Download SVG", "下載 SVG";
    Embed => "Embed on your site", "嵌入您的網站";
    EmbedHelp => "Paste one of these into your page. The preview below is the real button.", "將以下任一段貼到您的網頁。下方預覽即是真實按鈕。";
    ScriptTag => "Script tag", "Script 標籤";
    CustomElement => "Custom element", "自訂元素";
    UpgradedLink => "Upgraded link", "升級的連結";
    FloatingButton => "Floating button", "浮動按鈕";
    Theme => "Theme", "主題";
    Light => "Light", "淺色";
    Dark => "Dark", "深色";
    Auto => "Auto", "自動";
    ButtonText => "Button text", "按鈕文字";
    ButtonColor => "Button colour", "按鈕顏色";
    Preview => "Preview", "預覽";
    Funnel => "Funnel", "轉換漏斗";
    BySource => "By utm_source", "依 utm_source";
    Source => "Source", "來源";
    NoSource => "(none)", "(無)";
    Completions => "Completions", "完成次數";
    LinkBy => "Sell", "販售內容";
    ByProduct => "A product", "一項商品";
    ByLines => "Several prices (line items)", "多個價格(明細)";
    ByAmount => "An amount", "指定金額";
    Product => "Product", "商品";
    Quantity => "Quantity", "數量";
    Remove => "Remove", "移除";
    PromotionCode => "Promotion code applied", "套用的優惠碼";
    AllowCodes => "Let shoppers enter promotion codes", "允許顧客輸入優惠碼";
    MaxCompletions => "Stop after this many sales", "售出此數量後停止";
    AfterPayment => "After payment", "付款後";
    RedirectTo => "Go to my page", "前往我的網頁";
    SuccessUrl => "Success URL", "成功網址";
    HostedMessage => "Show a message", "顯示訊息";
    Message => "Message", "訊息";
    CustomField1 => "Custom field 1: type", "自訂欄位 1:類型";
    CustomField2 => "Custom field 2: type", "自訂欄位 2:類型";
    CustomField3 => "Custom field 3: type", "自訂欄位 3:類型";
    FieldKey => "Key", "代碼";
    FieldLabel => "Label", "標籤";
    FieldText => "Text", "文字";
    FieldNumeric => "Numbers", "數字";
    FieldDropdown => "Dropdown", "下拉選單";
    FieldOptions => "Options, comma-separated", "選項,以逗號分隔";
    Optional => "Optional", "選填";
    BillingAddress => "Billing address", "帳單地址";
    AddressAuto => "Only when needed", "必要時才收集";
    AddressRequired => "Always ask", "一律收集";
    SubmitType => "Button word", "按鈕用語";
    SubmitAuto => "Automatic", "自動";
    SubmitPay => "Pay", "付款";
    SubmitBook => "Book", "預訂";
    SubmitDonate => "Donate", "捐款";
    Metadata => "Metadata", "中繼資料";
    MetadataHelp => "One key=value per line.", "每行一組 key=value。";
    Title => "Title on the checkout page", "結帳頁標題";
    Orders => "Orders", "訂單";
    Payments => "Payments", "付款";
    Refunds => "Refunds", "退款";
    Refund => "Refund", "退款";
    RefundAmount => "Amount to refund (empty: all that is left)", "退款金額(空白:全額退還剩餘)";
    Refunded => "Refunded", "已退款";
    PartlyRefunded => "Partly refunded", "部分退款";
    NoReason => "No reason given", "未提供原因";
    Refundable => "Left to refund", "可退款餘額";
    Reason => "Reason", "原因";
    ReasonRequested => "Requested by the customer", "顧客要求";
    ReasonDuplicate => "Duplicate", "重複付款";
    ReasonFraud => "Fraudulent", "詐欺";
    Receipt => "Receipt", "收據";
    Card => "Card", "卡片";
    Customer => "Customer", "顧客";
    Email => "Email", "電子郵件";
    Answers => "Custom field answers", "自訂欄位回答";
    LineItems => "Line items", "明細";
    Total => "Total", "總計";
    Discount => "Discount", "折扣";
    All => "All", "全部";
    From => "From", "起";
    To => "To", "迄";
    Apply => "Apply", "套用";
    BillingOrders => "Billing orders", "帳單";
    NextBilling => "Next billing", "下次扣款";
    CancelNow => "Cancel now", "立即取消";
    CancelAtEnd => "Cancel at period end", "於本期結束時取消";
    Retry => "Retry the charge", "重新扣款";
    ConfirmCancel => "Cancel this subscription now? This cannot be undone.", "確定立即取消此訂閱?此動作無法復原。";
    Code => "Code", "代碼";
    PercentOff => "Percent off", "折扣百分比";
    AmountOff => "Amount off", "折扣金額";
    MaxRedemptions => "Uses allowed", "可使用次數";
    Redemptions => "Used", "已使用";
    NewCode => "New promotion code", "新增優惠碼";
    Keys => "API keys", "API 金鑰";
    PublishableKey => "Publishable key", "可公開金鑰";
    RollKey => "Roll the secret key", "更換秘密金鑰";
    RollKeyWarn => "The current secret key stops working at once, and every other dashboard session of this mode ends. The new key is shown once.", "目前的秘密金鑰會立即失效,此模式的其他後台登入也會結束。新金鑰只顯示一次。";
    ShownOnce => "Shown once: copy it now.", "只顯示這一次:請立即複製。";
    Webhooks => "Webhook endpoints", "Webhook 端點";
    Url => "URL", "網址";
    EventTypes => "Events (comma-separated, * for all)", "事件(以逗號分隔,* 代表全部)";
    NewEndpoint => "Add an endpoint", "新增端點";
    SigningSecret => "Signing secret", "簽章密鑰";
    Enabled => "Enabled", "已啟用";
    Disabled => "Disabled", "已停用";
    Enable => "Enable", "啟用";
    Disable => "Disable", "停用";
    Deliveries => "Deliveries", "傳送紀錄";
    Attempts => "Attempts", "嘗試";
    Replay => "Send again", "重新傳送";
    Events => "Events", "事件";
    EventType => "Type", "類型";
    TestClocks => "Test clocks", "測試時鐘";
    FrozenTime => "Frozen at", "凍結於";
    NewClock => "New test clock", "新增測試時鐘";
    Advance => "Advance to", "前進到";
    Dunning => "Failed renewals", "續訂失敗處理";
    RetrySchedule => "Retry after (hours, comma-separated)", "重試間隔(小時,以逗號分隔)";
    FinalState => "After the last retry", "最後一次重試失敗後";
    Trialing => "Trialing", "試用中";
    PastDue => "Past due", "逾期未付";
    Unpaid => "Keep as unpaid", "保留為未付款";
    Canceled => "Cancel", "取消訂閱";
    RedirectHosts => "Your sites (allowed redirect hosts)", "您的網站(允許的轉址主機)";
    RedirectHostsHelp => "One host per line, e.g. shop.example.com or *.example.com: where checkouts may send shoppers back, and which pages may embed them.", "每行一個主機,例如 shop.example.com 或 *.example.com:結帳可導回的網站,以及可嵌入結帳的網頁。";
    Branding => "Branding", "品牌";
    BrandingHelp => "Shown on your checkout pages, receipts and buy buttons.", "會顯示在結帳頁、收據與購買按鈕上。";
    DisplayName => "Display name", "顯示名稱";
    LogoUrl => "Logo URL (https)", "標誌網址(https)";
    AccentColor => "Accent colour", "主色";
    NotFound => "There is no such page in the dashboard.", "後台沒有這個頁面。";
    No => "None", "無";
}

thread_local! {
    static CHOSEN: std::cell::Cell<Option<RwSignal<Lang>>> = const { std::cell::Cell::new(None) };
}

/// The dashboard's language as a signal (made once, at start).
pub fn signal() -> RwSignal<Lang> {
    CHOSEN.with(|chosen| match chosen.get() {
        Some(lang) => lang,
        None => {
            let lang = RwSignal::new(initial());
            chosen.set(Some(lang));
            lang
        }
    })
}

/// The dashboard's language, chosen in its header (kept in `localStorage`) or the browser's.
pub fn lang() -> Lang {
    signal().get()
}

/// `key` in the dashboard's language.
pub fn t(key: T) -> &'static str {
    key.of(lang())
}

/// The language to start in.
fn initial() -> Lang {
    let window = web_sys::window();
    let stored = window
        .as_ref()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("till.lang").ok().flatten());
    let browser = window.and_then(|w| w.navigator().language());
    stored
        .or(browser)
        .and_then(|tag| Lang::from_tag(&tag))
        .unwrap_or(Lang::En)
}

/// Keeps the choice for the next visit.
pub fn remember(lang: Lang) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item("till.lang", lang.tag());
    }
}
