"""Write the binary sample documents (Word forms and PDFs) of the fictional Brightwater Analytics.

The Markdown, HTML, CSV, text and JSON samples are committed as written; Word and PDF files
cannot be written by hand, so their text lives here and this script renders them:

    .venv/bin/python scripts/make_sample_docs.py [--out sample_docs]

Output is reproducible (fixed timestamps and document ids), so running the script again
leaves git clean unless the text below changed. Needs python-docx and reportlab.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from pathlib import Path

# Dates baked into the files instead of "now", so the bytes only change when the text does.
_DOCX_DATE = dt.datetime(2025, 9, 1, 9, 0, 0, tzinfo=dt.UTC)
_ZIP_DATE = (2025, 9, 1, 9, 0, 0)

# A document is a list of blocks: ("title" | "h1" | "h2" | "p" | "bullet", text) or ("table", rows).
Block = tuple[str, str] | tuple[str, list[list[str]]]

PARENTAL_LEAVE_FORM: list[Block] = [
    ("title", "Parental Leave Request Form"),
    ("p", "Brightwater Analytics GmbH · People & Culture · Form HR-07, version 2025-02"),
    ("h1", "About this form"),
    (
        "p",
        "Use this form to request parental leave (Elternzeit in Germany, licença parental in Portugal) "
        "for the birth or adoption of a child. Submit it to People & Culture at least 7 weeks before "
        "the leave starts if you work under a German contract (§ 16 BEEG), and at least 30 days "
        "before if you work under a Portuguese contract.",
    ),
    (
        "p",
        "Maternity protection (Mutterschutz, six weeks before and eight weeks after the birth in "
        "Germany) does not need this form; tell People & Culture the expected date of birth as soon "
        "as you are comfortable doing so.",
    ),
    ("h1", "Section A: Employee details"),
    (
        "table",
        [
            ["Field", "Your answer"],
            ["Full name", ""],
            ["Employee ID (Personio)", ""],
            ["Office (Berlin or Lisbon)", ""],
            ["Department and cost centre", ""],
            ["Line manager", ""],
            ["Private email address for the time of the leave", ""],
        ],
    ),
    ("h1", "Section B: Leave details"),
    (
        "table",
        [
            ["Field", "Your answer"],
            ["Expected date of birth or adoption", ""],
            ["First day of parental leave", ""],
            ["Last day of parental leave", ""],
            ["Leave taken in blocks? List each block", ""],
            ["Part-time work during leave (hours per week, maximum 32)", ""],
            ["Is the other parent also taking leave? (yes / no)", ""],
        ],
    ),
    (
        "p",
        "Under a German contract you may take up to three years of parental leave per child, of "
        "which up to 24 months between the child's third and eighth birthday. Brightwater tops up "
        "the statutory parental allowance (Elterngeld) to 80% of your net salary for the first "
        "eight weeks of leave.",
    ),
    ("h1", "Section C: Declarations"),
    ("bullet", "I confirm that the information above is correct."),
    (
        "bullet",
        "I understand that changes to the leave dates must be agreed with my line manager and People & Culture.",
    ),
    ("bullet", "I will send the birth or adoption certificate to People & Culture within four weeks of the birth."),
    ("h1", "Section D: Signatures and approval"),
    (
        "table",
        [
            ["Role", "Name", "Signature", "Date"],
            ["Employee", "", "", ""],
            ["Line manager", "", "", ""],
            ["People & Culture", "", "", ""],
        ],
    ),
    ("h1", "How to submit"),
    (
        "p",
        "Upload the signed form in Personio under Documents > Parental leave, or email it to "
        "people@brightwater.example. People & Culture confirms your leave in writing within five "
        "working days and updates payroll and your leave balance.",
    ),
]

ONBOARDING_CHECKLIST: list[Block] = [
    ("title", "New Starter Onboarding Checklist"),
    (
        "p",
        "For new employees, their line manager and their onboarding buddy. Tick each item in the "
        "Personio onboarding task list; People & Culture checks progress at the end of week one.",
    ),
    ("h1", "Before day one"),
    (
        "table",
        [
            ["Task", "Owner", "Due"],
            ["Order laptop and accessories in the IT Help Centre", "Line manager", "10 working days before start"],
            ["Choose an onboarding buddy from another team", "Line manager", "1 week before start"],
            ["Create Okta account and send welcome email", "IT", "3 working days before start"],
            ["Send first-day schedule and office address", "People & Culture", "1 week before start"],
        ],
    ),
    ("h1", "Day one"),
    ("bullet", "09:30 welcome breakfast with People & Culture (Berlin: Müggelsee room; Lisbon: Alfama room)."),
    ("bullet", "Collect your office badge at reception; it opens the doors and releases print jobs."),
    ("bullet", "11:00 laptop handover with IT: set up Okta Verify, 1Password and the VPN."),
    ("bullet", "Lunch with your team and your buddy, paid by the team budget."),
    ("h1", "First week"),
    ("bullet", "Complete the Security Basics and Data Protection courses in Personio Learning within 7 days."),
    ("bullet", "Read the Employee Handbook and the policies in the handbook folder."),
    ("bullet", "Meet your buddy at least twice; they answer the questions you would not ask your manager."),
    ("h1", "First 30 days"),
    ("bullet", "Agree goals for the probation period with your line manager."),
    ("bullet", "Attend the monthly all-hands and the Tideline product introduction by Product."),
    ("h1", "Probation review"),
    (
        "p",
        "The probation period is six months in Germany and 90 days in Portugal. Your line manager "
        "holds a review meeting two weeks before it ends and records the outcome in Personio.",
    ),
]

PROCUREMENT_GUIDELINES: list[Block] = [
    ("title", "Procurement Guidelines"),
    (
        "p",
        "Brightwater Analytics GmbH · Finance · Version 4.1, valid from 1 April 2025 · "
        "Owner: Felix Hartmann, Procurement Lead",
    ),
    ("h1", "1. Scope and principles"),
    (
        "p",
        "These guidelines apply to every purchase of goods and services from external suppliers by "
        "Brightwater Analytics GmbH in Germany and its branch in Portugal: software licences for teams, "
        "cloud services, hardware, agencies, consultants and facility services. Personal business "
        "expenses such as meals and travel are covered by the Expense Policy and the Travel Policy.",
    ),
    (
        "p",
        "We buy what we need at a fair total cost, from suppliers who meet our standards for data "
        "protection, security and sustainability. The person who requests a purchase may not be the "
        "person who approves it or the person who pays the invoice (four-eyes principle).",
    ),
    ("h1", "2. Purchase thresholds"),
    ("p", "The thresholds refer to the total contract value over its full term, excluding VAT."),
    ("h2", "2.1 Up to 1,000 EUR"),
    (
        "p",
        "Buy directly with a Pleo card or by invoice, with the approval of your line manager. No "
        "quotes are needed, but check the preferred supplier list on the intranet first.",
    ),
    ("h2", "2.2 From 1,000 EUR to 10,000 EUR"),
    (
        "p",
        "Create a purchase request in Coupa before ordering. The budget owner of the cost centre "
        "approves it; Coupa then issues a purchase order (PO) number that the supplier must quote "
        "on the invoice. Obtain at least one written quote.",
    ),
    ("h2", "2.3 From 10,000 EUR to 50,000 EUR"),
    (
        "p",
        "Obtain three written quotes from independent suppliers and attach them to the Coupa request "
        "with a short comparison. Procurement reviews the request and the CFO approves it. If fewer "
        "than three suppliers exist, explain why.",
    ),
    ("h2", "2.4 Above 50,000 EUR"),
    (
        "p",
        "Procurement runs a structured tender with written evaluation criteria agreed before the "
        "offers are opened. The contract is approved by the CFO and the CEO together and is signed "
        "by two managing directors.",
    ),
    ("h1", "3. Supplier onboarding"),
    (
        "p",
        "A new supplier is created in Coupa by Procurement only, after these checks: company "
        "register extract and VAT ID; bank details confirmed by a phone call to a known number (never "
        "from an email); sanctions list screening; and for suppliers that will process personal or "
        "Confidential data, a security review by the Information Security Officer and a data "
        "processing agreement (Art. 28 GDPR) signed before any data is shared.",
    ),
    (
        "p",
        "Suppliers must accept the Brightwater Supplier Code of Conduct. Cloud and software suppliers "
        "should hold ISO/IEC 27001 or SOC 2 Type II certification.",
    ),
    ("h1", "4. Contracts, invoices and payment"),
    (
        "p",
        "Contracts are reviewed by Legal when they exceed 10,000 EUR, run longer than one year, renew "
        "automatically or involve personal data. Only managing directors and holders of a registered "
        "power of attorney (Prokura) may sign.",
    ),
    (
        "p",
        "Suppliers send invoices as PDF to invoices@brightwater.example, quoting the PO number. "
        "Invoices without a PO number are returned to the supplier. Our standard payment term is 30 "
        "days net; Finance pays twice a week, on Tuesdays and Fridays. Early-payment discounts are "
        "taken when offered.",
    ),
    ("h2", "4.1 Renewals and cancellations"),
    (
        "p",
        "Every contract has an owner in Coupa who receives a reminder 90 days before the notice "
        "deadline. The owner confirms the renewal or cancels in time; unused licences are reduced at "
        "each renewal.",
    ),
]

ANNUAL_REPORT: list[Block] = [
    ("title", "Annual Report 2025"),
    ("p", "Brightwater Analytics GmbH, Berlin · Financial year 1 January to 31 December 2025 · Summary for employees"),
    ("h1", "Letter from the CEO"),
    (
        "p",
        "2025 was the year Tideline became a platform rather than a product. Our retail customers now "
        "run their store replenishment directly on our forecasts, and the new fresh-food module cut "
        "food waste at our pilot customers by 17 percent. We opened the expanded Lisbon office in "
        "March and welcomed 26 new colleagues across both offices. Thank you for an extraordinary "
        "year. — Miriam Albers, CEO",
    ),
    ("h1", "Key figures"),
    (
        "table",
        [
            ["Figure", "2025", "2024"],
            ["Revenue", "18.4 million EUR", "15.1 million EUR"],
            ["Annual recurring revenue (31 Dec)", "19.6 million EUR", "15.8 million EUR"],
            ["EBITDA", "1.9 million EUR", "0.6 million EUR"],
            ["Customers (retail groups)", "312", "254"],
            ["Employees (31 Dec)", "124", "103"],
            ["of which in Lisbon", "41", "29"],
            ["Net revenue retention", "118 %", "112 %"],
        ],
    ),
    (
        "p",
        "Revenue grew by 22 percent. Growth came mainly from existing customers rolling Tideline out "
        "to more stores and from nine new customers in Spain and Portugal. Travel emissions fell to "
        "148 tonnes of CO2e (2024: 171 tonnes) as more customer workshops moved online.",
    ),
    ("h1", "Outlook 2026"),
    (
        "p",
        "For 2026 we plan revenue of 22 to 23 million EUR and about 20 new hires, most of them in "
        "Data Science and Customer Success. We will launch Tideline in the Nordic countries with a "
        "sales team based in Berlin, and complete the ISO/IEC 27001 recertification in June.",
    ),
]


def write_docx(blocks: list[Block], path: Path, *, title: str, subject: str, author: str) -> None:
    """Render ``blocks`` as a Word document with real Title/Heading styles and tables."""
    import docx

    document = docx.Document()
    for kind, content in blocks:
        if kind == "title":
            document.add_paragraph(str(content), style="Title")
        elif kind in ("h1", "h2"):
            document.add_heading(str(content), level=int(kind[1]))
        elif kind == "bullet":
            document.add_paragraph(str(content), style="List Bullet")
        elif kind == "table":
            rows = list(content)
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for row, values in zip(table.rows, rows, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
        else:
            document.add_paragraph(str(content))
    properties = document.core_properties
    properties.title, properties.subject, properties.author = title, subject, author
    properties.last_modified_by = author
    properties.created = properties.modified = _DOCX_DATE
    properties.revision = 1
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_with_fixed_zip_dates(buffer.getvalue()))


def _with_fixed_zip_dates(data: bytes) -> bytes:
    """The same zip with every entry dated ``_ZIP_DATE`` (python-docx stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED  # a bare ZipInfo would be stored uncompressed
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def write_pdf(blocks: list[Block], path: Path, *, title: str, subject: str, author: str) -> None:
    """Render ``blocks`` as an A4 PDF whose headings are also outline entries (bookmarks)."""
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import ListFlowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    rl_config.invariant = 1  # no creation date or random document id in the file

    class OutlinedDocument(SimpleDocTemplate):  # type: ignore[misc]  # reportlab ships no type hints
        """Adds a bookmark for every Heading1/Heading2 paragraph as it is placed on a page."""

        def afterFlowable(self, flowable: object) -> None:  # noqa: N802 (reportlab's hook name)
            if isinstance(flowable, Paragraph) and flowable.style.name in ("Heading1", "Heading2"):
                key = f"heading-{id(flowable)}"
                self.canv.bookmarkPage(key)
                level = 0 if flowable.style.name == "Heading1" else 1
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)

    styles = getSampleStyleSheet()
    story: list[object] = []
    for kind, content in blocks:
        if kind == "title":
            story.append(Paragraph(str(content), styles["Title"]))
        elif kind == "h1":
            # Each top-level chapter on its own page, so page numbers and outline entries line up.
            if any(isinstance(item, Paragraph) and item.style.name == "Heading1" for item in story):
                story.append(PageBreak())
            story.append(Paragraph(str(content), styles["Heading1"]))
        elif kind == "h2":
            story.append(Paragraph(str(content), styles["Heading2"]))
        elif kind == "bullet":
            story.append(ListFlowable([Paragraph(str(content), styles["BodyText"])], bulletType="bullet"))
        elif kind == "table":
            table = Table(list(content), hAlign="LEFT")
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                        ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ]
                )
            )
            story += [table, Spacer(1, 0.4 * cm)]
        else:
            story.append(Paragraph(str(content), styles["BodyText"]))
    document = OutlinedDocument(
        str(path), pagesize=A4, title=title, subject=subject, author=author, creator="make_sample_docs.py"
    )
    document.build(story)


def main() -> None:
    """Write all binary sample documents under ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_docs")
    out: Path = parser.parse_args().out
    (out / "hr").mkdir(parents=True, exist_ok=True)
    (out / "finance").mkdir(parents=True, exist_ok=True)
    write_docx(
        PARENTAL_LEAVE_FORM,
        out / "hr" / "parental-leave-request-form.docx",
        title="Parental Leave Request Form",
        subject="Request parental leave (Elternzeit / licença parental)",
        author="People & Culture",
    )
    write_docx(
        ONBOARDING_CHECKLIST,
        out / "hr" / "onboarding-checklist.docx",
        title="New Starter Onboarding Checklist",
        subject="Tasks for the first day, week and months",
        author="People & Culture",
    )
    write_pdf(
        PROCUREMENT_GUIDELINES,
        out / "finance" / "procurement-guidelines.pdf",
        title="Procurement Guidelines",
        subject="Purchase thresholds, supplier onboarding and payment",
        author="Felix Hartmann, Finance",
    )
    write_pdf(
        ANNUAL_REPORT,
        out / "finance" / "annual-report-2025.pdf",
        title="Annual Report 2025",
        subject="Brightwater Analytics key figures 2025",
        author="Finance",
    )
    for path in sorted((out / "hr").glob("*.docx")) + sorted((out / "finance").glob("*.pdf")):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
