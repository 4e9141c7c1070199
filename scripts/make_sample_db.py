"""Write sample_docs/databases/brightwater.db: the product catalogue, customers, support tickets and
employee directory of the fictional Brightwater Analytics GmbH, as a SQLite database.

    .venv/bin/python scripts/make_sample_db.py [--out sample_docs/databases/brightwater.db]

SQLite has no COMMENT ON: the tables and columns are described by ``-- comments`` in the
CREATE TABLE statements, which orgkb reads (a comment on a column's line describes the column;
comments before the first column describe the table). The file is rebuilt from scratch, with
fixed dates, so running the script again gives the same rows.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE employees ( -- Employee directory: who works where, their role, manager and contact details
    employee_id INTEGER PRIMARY KEY, -- Personio employee number
    full_name TEXT NOT NULL,
    job_title TEXT NOT NULL,
    department TEXT NOT NULL, -- Department as in the cost-centre list
    cost_centre INTEGER NOT NULL, -- Cost centre number (see cost-centres.csv)
    office TEXT NOT NULL, -- Berlin or Lisbon
    email TEXT NOT NULL UNIQUE,
    phone_extension TEXT, -- Internal extension; dial +49 30 5550 (Berlin) or +351 21 555 (Lisbon) first
    manager_id INTEGER REFERENCES employees(employee_id), -- Line manager
    started_on DATE NOT NULL
);

CREATE TABLE products ( -- Product catalogue: the modules of the Tideline platform that customers subscribe to
    product_id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE, -- Article number used on invoices
    name TEXT NOT NULL,
    summary TEXT NOT NULL, -- One-sentence pitch
    description TEXT NOT NULL, -- What the module does, for customers and support
    list_price_eur REAL NOT NULL, -- List price per store and month, in euros, before discounts
    product_owner_id INTEGER REFERENCES employees(employee_id),
    status TEXT NOT NULL -- generally available, beta or retired
);

CREATE TABLE customers ( -- Retail customers: grocery and fashion chains using Tideline
    customer_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    segment TEXT NOT NULL, -- grocery or fashion
    country TEXT NOT NULL,
    stores INTEGER NOT NULL, -- Number of stores under contract
    account_manager_id INTEGER REFERENCES employees(employee_id), -- Customer Success manager for the account
    customer_since DATE NOT NULL
);

CREATE TABLE support_tickets ( -- Customer support requests: problems and questions raised by customers about Tideline
    ticket_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    product_id INTEGER REFERENCES products(product_id),
    subject TEXT NOT NULL,
    description TEXT NOT NULL, -- The customer's report and what support found
    status TEXT NOT NULL, -- open, pending (waiting for the customer) or solved
    priority TEXT NOT NULL, -- low, normal, high or urgent
    assignee_id INTEGER REFERENCES employees(employee_id), -- Support engineer working on it
    opened_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL -- Last change; orgkb re-reads only tickets whose stamp changed
);
"""

# (id, name, title, department, cost centre, office, extension, manager, started)
EMPLOYEES = [
    (1, "Miriam Albers", "Chief Executive Officer and co-founder", "Executive", 1000, "Berlin", "0100", None, "2016-03-01"),
    (2, "Tomás Figueira", "Chief Technology Officer and co-founder", "Engineering", 3100, "Lisbon", "0200", 1, "2016-03-01"),
    (3, "Tobias Reinhardt", "Head of Finance and Controlling", "Finance", 1100, "Berlin", "0110", 1, "2018-01-15"),
    (4, "Dr. Helena Brandt", "General Counsel", "Executive", 1200, "Berlin", "0120", 1, "2019-04-01"),
    (5, "Ana Ferreira", "Head of People & Culture", "People & Culture", 1300, "Lisbon", "0130", 1, "2019-09-02"),
    (6, "Lena Vogt", "Office Manager Berlin", "Operations", 1400, "Berlin", "0140", 3, "2020-02-01"),
    (7, "João Matos", "Office Manager Lisbon", "Operations", 1410, "Lisbon", "0141", 3, "2021-05-03"),
    (8, "Jonas Weber", "Head of IT and Security", "IT", 2000, "Berlin", "1000", 2, "2018-06-01"),
    (9, "Katarina Novak", "VP Product Engineering", "Engineering", 3000, "Berlin", "0300", 2, "2017-10-01"),
    (10, "Rui Santos", "Head of Data Science", "Data Science", 3200, "Lisbon", "0320", 2, "2019-01-07"),
    (11, "Daniel Koch", "Head of Sales DACH", "Sales", 4000, "Berlin", "0400", 1, "2018-03-01"),
    (12, "Marta Oliveira", "Head of Sales Southern Europe", "Sales", 4100, "Lisbon", "0410", 1, "2020-07-01"),
    (13, "Julia Hoffmann", "Head of Marketing", "Sales", 4200, "Berlin", "0420", 1, "2021-02-01"),
    (14, "Emre Yilmaz", "Head of Customer Success", "Customer Success", 5000, "Berlin", "0500", 1, "2018-09-01"),
    (15, "Catarina Lopes", "Customer Support Lead Southern Europe", "Customer Success", 5100, "Lisbon", "0510", 14, "2020-11-02"),
    (16, "Felix Brandt", "Customer Success Manager", "Customer Success", 5000, "Berlin", "0501", 14, "2022-04-01"),
    (17, "Sofia Almeida", "Support Engineer", "Customer Success", 5100, "Lisbon", "0511", 15, "2023-01-09"),
    (18, "Niklas Schulz", "Support Engineer", "Customer Success", 5000, "Berlin", "0502", 14, "2022-09-01"),
    (19, "Inês Carvalho", "Data Scientist, forecasting models", "Data Science", 3200, "Lisbon", "0321", 10, "2021-03-15"),
    (20, "Paul Richter", "Product Manager, Replenish and Markdown", "Engineering", 3000, "Berlin", "0301", 9, "2022-01-10"),
    (21, "Beatriz Sousa", "Platform Engineer, data integrations", "Engineering", 3100, "Lisbon", "0201", 2, "2022-06-01"),
    (22, "Hannah Wolf", "IT Service Desk Specialist", "IT", 2000, "Berlin", "1001", 8, "2023-05-02"),
]

# (id, sku, name, summary, description, price, owner, status)
PRODUCTS = [
    (1, "TL-FC", "Tideline Forecast", "Daily demand forecasts per store and article.",
     "Predicts sales for every article in every store for the next 1 to 90 days from sales history, prices, "
     "promotions, holidays and local weather. Forecasts refresh every night at 02:00 CET after the sales import.",
     49.0, 19, "generally available"),
    (2, "TL-RP", "Tideline Replenish", "Order proposals from forecasts and stock.",
     "Turns forecasts, current stock, shelf capacity and supplier lead times into daily order proposals that "
     "buyers approve or adjust. Supports minimum order quantities and pack sizes.",
     39.0, 20, "generally available"),
    (3, "TL-MD", "Tideline Markdown", "Price reductions that clear seasonal stock.",
     "Suggests when and how much to reduce prices of seasonal and fresh articles so stock sells before it spoils "
     "or goes out of season, respecting each customer's minimum price and margin rules.",
     29.0, 20, "generally available"),
    (4, "TL-IN", "Tideline Insights", "Dashboards on forecast accuracy and waste.",
     "Reports forecast accuracy (MAPE, bias), out-of-stock rate, waste and markdown spend per store, region and "
     "category, with weekly e-mail digests for store managers.",
     15.0, 9, "generally available"),
    (5, "TL-CN", "Tideline Connect", "Data imports from ERP and POS systems.",
     "Imports sales, stock and master data by SFTP (CSV), REST API or the SAP connector, validates every file and "
     "reports rejected rows. Exports order proposals back to the ERP.",
     0.0, 21, "generally available"),
    (6, "TL-FR", "Tideline Fresh", "Intraday forecasts for bakery and fresh produce.",
     "Forecasts bakery and fresh-produce demand in 2-hour slots so stores bake and re-stock during the day. "
     "Currently piloted with three grocery customers.",
     25.0, 19, "beta"),
]

# (id, name, segment, country, stores, account manager, since)
CUSTOMERS = [
    (1, "Frischmarkt Nord GmbH", "grocery", "Germany", 84, 16, "2019-05-01"),
    (2, "Mercado Atlântico S.A.", "grocery", "Portugal", 61, 15, "2020-10-01"),
    (3, "Modehaus Lindner KG", "fashion", "Germany", 23, 16, "2021-02-01"),
    (4, "Casa Verde Supermercados", "grocery", "Spain", 112, 15, "2021-09-01"),
    (5, "Alpenkorb Handels AG", "grocery", "Austria", 47, 16, "2022-03-01"),
    (6, "Vento Moda Lda.", "fashion", "Portugal", 18, 15, "2022-11-01"),
    (7, "Biohof Märkte eG", "grocery", "Germany", 35, 14, "2023-04-01"),
]

# (id, customer, product, subject, description, status, priority, assignee, opened, updated)
TICKETS = [
    (1001, 1, 1, "Easter forecast far too low in northern stores",
     "Store managers in Hamburg and Kiel report that forecasts for Easter week are 30 to 40 percent below last "
     "year. Support found that the holiday calendar for Schleswig-Holstein was missing Easter Monday; Data Science "
     "added it and re-ran the forecasts.", "solved", "high", 18, "2025-04-10 08:12:00", "2025-04-11 16:40:00"),
    (1002, 2, 5, "SFTP sales import failing since Monday",
     "The nightly sales file from Mercado Atlântico is rejected with 'invalid date format'. Their ERP update "
     "changed dates from YYYY-MM-DD to DD/MM/YYYY. Waiting for the customer to switch the export back or confirm "
     "the new format so we can change the import mapping.", "pending", "urgent", 17, "2025-06-02 07:30:00",
     "2025-06-03 10:05:00"),
    (1003, 4, 3, "Markdown suggestions below minimum price",
     "Casa Verde says Markdown proposed 70 percent off on dairy although their minimum price rule is 50 percent "
     "of list price. The rule was configured per category but dairy sits in a sub-category without the rule.",
     "open", "high", 17, "2025-06-18 14:02:00", "2025-06-19 09:15:00"),
    (1004, 3, 4, "Weekly digest e-mails not arriving",
     "Store managers at Modehaus Lindner stopped receiving the Monday Insights digest. Their mail gateway "
     "quarantines messages from insights@tideline.example; the customer's IT is adding us to the allow list.",
     "pending", "normal", 18, "2025-05-05 09:45:00", "2025-05-06 11:20:00"),
    (1005, 5, 2, "Order proposals ignore pack size of 12",
     "Alpenkorb buyers see proposals of 7 or 9 bottles for beverages that are delivered in crates of 12. Pack "
     "sizes were missing in the master data import; after re-importing the article master the proposals round "
     "up to full crates.", "solved", "normal", 18, "2025-03-03 10:00:00", "2025-03-05 15:30:00"),
    (1006, 7, 6, "Bakery forecast slots start too late",
     "Biohof bakeries start baking at 05:00, but the first Fresh forecast slot starts at 06:00. Product "
     "management is adding configurable opening hours per store to the beta.", "open", "low", 17,
     "2025-07-01 06:20:00", "2025-07-02 08:00:00"),
    (1007, 6, 1, "Single sign-on with Okta fails for new users",
     "New Vento Moda users get 'user not assigned' when logging in through Okta. The Tideline app was not "
     "assigned to their new Okta group; the customer's admin fixed the assignment.", "solved", "normal", 17,
     "2025-02-14 13:10:00", "2025-02-14 17:45:00"),
    (1008, 2, 1, "Forecast accuracy dropped after store remodelling",
     "Two Lisbon stores were closed for three weeks for remodelling, and forecasts afterwards were too low. The "
     "closure days must be flagged as store closures in Connect so the model ignores them.", "open", "normal", 17,
     "2025-07-08 11:00:00", "2025-07-08 11:00:00"),
]


def build(path: Path) -> None:
    """Create the database at ``path`` (replacing an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA)
        connection.executemany(
            "INSERT INTO employees VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(i, n, t, d, cc, o, _email(n), ext, m, s) for i, n, t, d, cc, o, ext, m, s in EMPLOYEES],
        )
        connection.executemany("INSERT INTO products VALUES (?,?,?,?,?,?,?,?)", PRODUCTS)
        connection.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?)", CUSTOMERS)
        connection.executemany("INSERT INTO support_tickets VALUES (?,?,?,?,?,?,?,?,?,?)", TICKETS)
        connection.commit()
        connection.execute("VACUUM")
    finally:
        connection.close()


def _email(name: str) -> str:
    plain = name.removeprefix("Dr. ").lower()
    for accented, ascii_letter in {"á": "a", "ã": "a", "ê": "e", "é": "e", "í": "i", "ó": "o", "ô": "o", "ú": "u", "ç": "c", "ä": "ae", "ö": "oe", "ü": "ue"}.items():
        plain = plain.replace(accented, ascii_letter)
    return plain.replace(" ", ".") + "@brightwater.example"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_docs" / "databases" / "brightwater.db")
    args = parser.parse_args()
    build(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
