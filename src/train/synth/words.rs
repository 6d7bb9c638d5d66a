//! Built-in vocabularies for the synthetic text generator: common English words (also the
//! fallback when no system dictionary exists), names, places, company parts, receipt items and
//! form keys. Chosen to resemble the receipts (SROIE), business forms (FUNSD) and general prose
//! the recogniser must read.

/// Frequent English words (function words weigh a lot in real prose).
#[rustfmt::skip]
pub const COMMON_WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no", "she", "other", "its", "may",
    "these", "what", "them", "than", "some", "him", "time", "into", "only", "do", "could", "new",
    "about", "two", "any", "our", "first", "my", "also", "should", "like", "after", "such", "then",
    "made", "over", "did", "many", "must", "before", "under", "each", "where", "much", "well",
    "those", "through", "between", "most", "very", "same", "three", "year", "years", "people",
    "work", "state", "world", "because", "program", "report", "company", "number", "business",
    "market", "product", "products", "sales", "research", "data", "results", "study",
    "information", "service", "services", "price", "total", "amount", "date", "page", "please",
    "thank", "received", "request", "following", "review", "meeting", "letter", "office", "board",
    "committee", "project", "development", "support", "management", "account", "payment", "order",
    "invoice", "customer", "department", "general", "public", "health", "tobacco", "smoking",
    "industry", "cigarette", "brand", "test", "testing", "analysis", "approval", "budget", "cost",
    "costs", "plan", "planning", "schedule", "issue", "issues", "policy", "system", "quality",
    "control", "group", "level", "second", "third", "final", "current", "previous", "annual",
    "monthly", "weekly", "daily", "section", "chapter", "figure", "table", "note", "notes", "see",
    "above", "below", "per", "including", "within", "without", "during", "against", "among",
    "however", "therefore", "although", "while", "since", "until", "upon", "whether", "either",
    "neither", "both", "good", "great", "small", "large", "long", "short", "high", "low", "old",
    "young", "early", "late", "important", "different", "possible", "available", "necessary",
    "several", "certain", "special", "local", "national", "international", "federal", "private",
    "house", "school", "water", "family", "city", "country", "government", "history", "life",
    "day", "week", "month", "night", "morning", "evening", "place", "point", "part", "case",
    "hand", "way", "man", "woman", "child", "children", "name", "address", "phone", "fax",
    "signature", "approved", "submitted", "prepared", "attached", "enclosed", "copy", "copies",
    "original", "return", "send", "sent", "receive", "agree", "provide", "include", "develop",
    "consider", "continue", "require", "required", "based", "used", "using", "make", "take",
    "give", "find", "know", "think", "see", "come", "want", "look", "use", "tell", "ask", "seem",
    "feel", "try", "leave", "call", "keep", "let", "begin", "show", "hear", "play", "run", "move",
    "live", "believe", "hold", "bring", "happen", "write", "sit", "stand", "lose", "pay", "meet",
    "set", "learn", "change", "lead", "understand", "watch", "follow", "stop", "create", "speak",
    "read", "spend", "grow", "open", "walk", "win", "offer", "remember", "love", "buy", "wait",
    "serve", "die", "build", "stay", "fall", "cut", "reach", "kill", "remain", "suggest", "raise",
    "pass", "sell", "decide", "explain", "hope", "report", "describe", "figure", "effect",
    "effects", "evidence", "level", "method", "sample", "samples", "value", "values", "rate",
    "rates", "increase", "decrease", "product", "paper", "book", "story", "question", "answer",
    "problem", "reason", "result", "fact", "idea", "example", "area", "field", "member", "members",
    "law", "rule", "form", "forms", "cash", "change", "tax", "discount", "item", "items", "qty",
    "unit", "receipt", "store",
];

/// Given names.
#[rustfmt::skip]
pub const FIRST_NAMES: &[&str] = &[
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Margaret", "Betty", "Sandra", "Ashley", "Donald", "Mark",
    "Paul", "Steven", "Andrew", "Kenneth", "George", "Edward", "Brian", "Ronald", "Anthony",
    "Kevin", "Jason", "Gary", "Frank", "Walter", "Harold", "Carl", "Peter", "Ahmad", "Muhammad",
    "Siti", "Nur", "Tan", "Lim", "Wong", "Lee", "Chong", "Kumar", "Raj", "Wei", "Mei", "Hui",
    "Ali", "Aisyah", "Farah", "Hafiz", "Azman", "Priya", "Anand",
];

/// Family names.
#[rustfmt::skip]
pub const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips",
    "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook",
    "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard",
    "O'Brien", "McDonald", "Abdullah", "Ibrahim", "Ismail", "Rahman", "Hassan", "Tan", "Lim", "Ng",
    "Chan", "Goh", "Teoh", "Yap", "Ong", "Singh", "Nair", "Pillai", "Spielberger",
];

/// Street names (without type).
#[rustfmt::skip]
pub const STREETS: &[&str] = &[
    "Main", "Oak", "Maple", "Park", "Washington", "Lake", "Hill", "Elm", "Pine", "Cedar",
    "Madison", "Jefferson", "Lincoln", "Broad", "Market", "Church", "High", "Spring", "Walnut",
    "Bukit Bintang", "Ampang", "Tun Razak", "Sultan Ismail", "Raja Laut", "Klang Lama", "Puchong",
    "Kuchai Lama", "Bukit Raja", "Meru", "Segambut", "Kepong", "Ipoh", "Sentul",
];

/// Street types, long and abbreviated.
#[rustfmt::skip]
pub const STREET_TYPES: &[&str] = &[
    "Street", "St.", "Avenue", "Ave.", "Road", "Rd.", "Boulevard", "Blvd.", "Drive", "Dr.", "Lane",
    "Ln.", "Way", "Court", "Ct.", "Place", "Pl.", "Parkway", "Highway",
];

/// Cities, with a plausible region / state.
#[rustfmt::skip]
pub const CITIES: &[(&str, &str)] = &[
    ("New York", "NY"), ("Winston-Salem", "NC"), ("Richmond", "VA"), ("Louisville", "KY"),
    ("Chicago", "IL"), ("Greensboro", "NC"), ("Washington", "DC"), ("Atlanta", "GA"),
    ("San Francisco", "CA"), ("Boston", "MA"), ("Philadelphia", "PA"), ("Houston", "TX"),
    ("Kuala Lumpur", "Wilayah Persekutuan"), ("Petaling Jaya", "Selangor"),
    ("Shah Alam", "Selangor"), ("Puchong", "Selangor"), ("Klang", "Selangor"),
    ("Johor Bahru", "Johor"), ("Georgetown", "Pulau Pinang"), ("Ipoh", "Perak"),
    ("Seremban", "Negeri Sembilan"), ("Cheras", "Selangor"), ("Subang Jaya", "Selangor"),
];

/// Words that appear in company names.
#[rustfmt::skip]
pub const COMPANY_WORDS: &[&str] = &[
    "Global", "United", "National", "American", "Pacific", "Eastern", "Golden", "Star", "Tobacco",
    "Brands", "Industries", "Trading", "Hardware", "Stationery", "Bookstore", "Restaurant",
    "Bakery", "Mart", "Supermarket", "Pharmacy", "Electrical", "Engineering", "Marketing",
    "Holdings", "Enterprise", "Resources", "Foods", "Chemical", "Research", "Associates",
    "Partners", "Consulting", "Systems", "Media", "Printing", "Gift", "Home", "Lorillard",
    "Reynolds", "Philip", "Morris", "Brown", "Williamson", "Liggett", "Kedai", "Syarikat",
    "Perniagaan", "Restoran", "Aeon", "Popular", "Mr. DIY", "Gardenia", "Unihakka",
];

/// Legal-form suffixes of company names.
#[rustfmt::skip]
pub const COMPANY_SUFFIXES: &[&str] = &[
    "SDN BHD", "SDN. BHD.", "Sdn. Bhd.", "(M) SDN BHD", "BHD", "Inc.", "Inc", "LLC", "L.L.C.",
    "Ltd.", "Ltd", "Limited", "Co.", "Corp.", "Corporation", "Company", "& Co.", "PLC", "GmbH",
    "ENTERPRISE", "TRADING", "& Sons", "Group", "LLP",
];

/// Receipt item names.
#[rustfmt::skip]
pub const ITEMS: &[&str] = &[
    "MILO", "NESCAFE", "TEH TARIK", "KOPI O", "NASI LEMAK", "MEE GORENG", "ROTI CANAI",
    "CHICKEN RICE", "WHITE BREAD", "GARDENIA", "MINERAL WATER", "COCA COLA", "100PLUS", "SUGAR",
    "RICE", "EGG", "MILK", "BUTTER", "CHEESE", "APPLE", "BANANA", "ORANGE JUICE", "A4 PAPER",
    "PEN BLUE", "PENCIL 2B", "STAPLER", "FILE FOLDER", "GLUE STICK", "ERASER", "NOTEBOOK",
    "SCISSORS", "TAPE", "BATTERY AA", "LED BULB", "SCREW", "PLIERS", "HAMMER", "PAINT BRUSH",
    "CABLE TIE", "SOCKET", "EXTENSION", "TISSUE", "DETERGENT", "SHAMPOO", "TOOTHPASTE", "SOAP",
    "ICED LEMON TEA", "FRIED RICE", "CURRY PUFF", "DIM SUM", "SATAY", "Coffee", "Latte",
    "Cappuccino", "Muffin", "Sandwich", "Salad", "Burger", "Fries",
];

/// Units and pack sizes on item lines.
#[rustfmt::skip]
pub const UNITS: &[&str] = &[
    "1KG", "500G", "250G", "1L", "1.5L", "500ML", "330ML", "12S", "6S", "PCS", "PKT", "BTL", "BOX",
    "EA", "DOZ", "2X", "10'S", "5M", "",
];

/// Keys of form fields.
#[rustfmt::skip]
pub const FORM_KEYS: &[&str] = &[
    "Date", "DATE", "To", "TO", "From", "FROM", "Re", "RE", "Subject", "Fax No.", "Fax", "Phone",
    "Tel", "Name", "NAME", "Address", "Account No.", "Acct #", "Brand", "BRAND", "Project",
    "Signature", "Approved by", "Cc", "CC", "Pages", "No. of Pages", "Total", "Invoice No",
    "Doc No", "Cashier", "Table", "Ref", "Reference", "Attn", "Company", "Date Received", "Code",
    "Region", "Division", "Territory", "Prepared by", "Remarks",
];

/// Month names.
#[rustfmt::skip]
pub const MONTHS: &[&str] = &[
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
];

/// Weekday names.
#[rustfmt::skip]
pub const WEEKDAYS: &[&str] = &[
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
];

/// Receipt / invoice totals vocabulary.
#[rustfmt::skip]
pub const TOTAL_KEYS: &[&str] = &[
    "TOTAL", "Total", "SUBTOTAL", "Sub Total", "GRAND TOTAL", "TOTAL SALES", "CASH", "Cash",
    "CHANGE", "Change", "ROUNDING", "Rounding Adj", "GST 6%", "SST 10%", "Service Charge",
    "DISCOUNT", "NET TOTAL", "Amount Due", "BALANCE", "Total Incl. GST", "TOTAL (RM)", "Tax",
    "VISA", "MASTER", "TENDERED", "Nett Total", "Total Qty", "Deposit",
];

/// Currency prefixes.
#[rustfmt::skip]
pub const CURRENCIES: &[&str] = &[
    "RM", "RM ", "$", "$ ", "USD ", "€ ", "€", "£", "£ ", "¥", "SGD ", "",
];
