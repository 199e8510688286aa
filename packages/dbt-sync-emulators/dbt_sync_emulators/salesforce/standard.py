"""Salesforce's standard fields of Account, Contact, Lead and Opportunity.

Names, types, lengths, precision/scale and required-ness follow Salesforce's
*Object Reference for the Salesforce Platform* and *Salesforce Field
Reference Guide* (developer.salesforce.com/docs/platform/field-reference/,
pages ``salesforce-field-reference-account`` / ``-contact`` / ``-lead`` /
``-opportunity``); docs/emulators-salesforce.md lists what is left out. A
field is *required* when the reference gives it neither *Nillable* nor
*Defaulted on create*; read-only fields (no *Create* / *Update*) refuse
writes with ``INVALID_FIELD_FOR_INSERT_UPDATE`` as in a real org.

Each function returns describe-field dicts without the fields every object
has (``Id``, ``CreatedDate``, ``LastModifiedDate``, ``SystemModstamp``: see
:func:`~dbt_sync_emulators.salesforce.objects.standard_fields`).
"""

from __future__ import annotations

from typing import Any

from .objects import describe_field

#: Salesforce's default values of standard picklists in a new org
LEAD_SOURCE = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
SALUTATION = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]
RATING = ["Hot", "Warm", "Cold"]
INDUSTRY = [
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
    "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
    "Manufacturing", "Media", "Not For Profit", "Other", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities",
]
ACCOUNT_TYPE = ["Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                "Installation Partner", "Technology Partner", "Other"]
OWNERSHIP = ["Public", "Private", "Subsidiary", "Other"]
LEAD_STATUS = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
STAGE_NAME = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
              "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"]
OPPORTUNITY_TYPE = ["Existing Customer - Upgrade", "Existing Customer - Replacement",
                    "Existing Customer - Downgrade", "New Customer"]
FORECAST_CATEGORY_NAME = ["Omitted", "Pipeline", "Best Case", "Commit", "Closed"]

_READ_ONLY = {"createable": False, "updateable": False}


def _s(name: str, length: int, label: str | None = None, **attrs: Any) -> dict[str, Any]:
    return describe_field(name, "string", length=length, byteLength=length * 3, label=label, **attrs)


def _pick(name: str, values: list[str], label: str | None = None, length: int = 255,
          **attrs: Any) -> dict[str, Any]:
    return describe_field(name, "picklist", picklistValues=values, length=length, byteLength=length * 3,
                          label=label, **attrs)


def _flag(name: str, label: str | None = None, **attrs: Any) -> dict[str, Any]:
    """A checkbox: never null, false unless set."""
    return describe_field(name, "boolean", label=label, nillable=False, defaultedOnCreate=True,
                          defaultValue=False, **attrs)


def _ref(name: str, to: str, relationship: str, label: str | None = None, **attrs: Any) -> dict[str, Any]:
    return describe_field(name, "reference", referenceTo=[to], relationshipName=relationship, label=label,
                          **attrs)


def _address(prefix: str, label: str) -> list[dict[str, Any]]:
    """The components of a compound address field (Billing, Shipping, Mailing, Other, or none for Lead)."""
    def lbl(part: str) -> str:
        return f"{label} {part}".strip()

    return [
        describe_field(f"{prefix}Street", "textarea", label=lbl("Street"), length=255, byteLength=765,
                       sortable=True),
        _s(f"{prefix}City", 40, lbl("City")),
        _s(f"{prefix}State", 80, lbl("State/Province")),
        _s(f"{prefix}PostalCode", 20, lbl("Zip/Postal Code")),
        _s(f"{prefix}Country", 80, lbl("Country")),
        describe_field(f"{prefix}Latitude", "double", label=lbl("Latitude"), precision=18, scale=15),
        describe_field(f"{prefix}Longitude", "double", label=lbl("Longitude"), precision=18, scale=15),
    ]


def _description(label: str) -> dict[str, Any]:
    return describe_field("Description", "textarea", label=label, length=32000, byteLength=96000,
                          filterable=False, sortable=False)


def _common() -> list[dict[str, Any]]:
    return [
        _flag("IsDeleted", "Deleted", **_READ_ONLY),
        describe_field("LastActivityDate", "date", label="Last Activity", **_READ_ONLY),
    ]


def account() -> list[dict[str, Any]]:
    return [
        _s("Name", 255, "Account Name", nameField=True, idLookup=True, nillable=False),
        _s("AccountNumber", 40, "Account Number"),
        _pick("AccountSource", LEAD_SOURCE, "Account Source"),
        describe_field("AnnualRevenue", "currency", label="Annual Revenue", precision=18, scale=0),
        *_address("Billing", "Billing"),
        _description("Account Description"),
        describe_field("Fax", "phone", label="Account Fax", length=40),
        # restricted in the emulator's org: an admin may restrict a standard picklist to its value set
        _pick("Industry", INDUSTRY, restrictedPicklist=True),
        _s("Jigsaw", 20, "Data.com Key"),
        describe_field("NumberOfEmployees", "int", label="Employees", digits=8),
        _pick("Ownership", OWNERSHIP),
        _ref("ParentId", "Account", "Parent", "Parent Account ID"),
        describe_field("Phone", "phone", label="Account Phone", length=40),
        _pick("Rating", RATING, "Account Rating"),
        *_address("Shipping", "Shipping"),
        _s("Sic", 20, "SIC Code"),
        _s("SicDesc", 80, "SIC Description"),
        _s("Site", 80, "Account Site"),
        _s("TickerSymbol", 20, "Ticker Symbol"),
        _pick("Type", ACCOUNT_TYPE, "Account Type"),
        describe_field("Website", "url", length=255),
        _s("YearStarted", 4, "Year Started"),
        *_common(),
    ]


def contact() -> list[dict[str, Any]]:
    return [
        _s("LastName", 80, "Last Name", nillable=False),
        _s("FirstName", 40, "First Name"),
        _pick("Salutation", SALUTATION, length=40),
        _s("Name", 121, "Full Name", nameField=True, **_READ_ONLY),
        _ref("AccountId", "Account", "Account", "Account ID"),
        _s("AssistantName", 40, "Assistant's Name"),
        describe_field("AssistantPhone", "phone", label="Asst. Phone", length=40),
        describe_field("Birthdate", "date"),
        _s("Department", 80),
        _description("Contact Description"),
        _flag("DoNotCall", "Do Not Call"),
        describe_field("Email", "email", idLookup=True, length=80),
        describe_field("EmailBouncedDate", "datetime", label="Email Bounced Date"),
        _s("EmailBouncedReason", 255, "Email Bounced Reason"),
        describe_field("Fax", "phone", label="Business Fax", length=40),
        _flag("HasOptedOutOfEmail", "Email Opt Out"),
        _flag("HasOptedOutOfFax", "Fax Opt Out"),
        describe_field("HomePhone", "phone", label="Home Phone", length=40),
        _s("Jigsaw", 20, "Data.com Key"),
        _pick("LeadSource", LEAD_SOURCE, "Lead Source"),
        *_address("Mailing", "Mailing"),
        describe_field("MobilePhone", "phone", label="Mobile Phone", length=40),
        *_address("Other", "Other"),
        describe_field("OtherPhone", "phone", label="Other Phone", length=40),
        describe_field("Phone", "phone", label="Business Phone", length=40),
        _ref("ReportsToId", "Contact", "ReportsTo", "Reports To ID"),
        _s("Title", 128),
        *_common(),
    ]


def lead() -> list[dict[str, Any]]:
    return [
        _s("LastName", 80, "Last Name", nillable=False),
        _s("FirstName", 40, "First Name"),
        _pick("Salutation", SALUTATION, length=40),
        _s("Name", 121, "Full Name", nameField=True, **_READ_ONLY),
        _s("Company", 255, nillable=False),
        describe_field("AnnualRevenue", "currency", label="Annual Revenue", precision=18, scale=0),
        *_address("", ""),
        _ref("ConvertedAccountId", "Account", "ConvertedAccount", "Converted Account ID", **_READ_ONLY),
        _ref("ConvertedContactId", "Contact", "ConvertedContact", "Converted Contact ID", **_READ_ONLY),
        describe_field("ConvertedDate", "date", label="Converted Date", **_READ_ONLY),
        _ref("ConvertedOpportunityId", "Opportunity", "ConvertedOpportunity", "Converted Opportunity ID",
             **_READ_ONLY),
        _description("Description"),
        _flag("DoNotCall", "Do Not Call"),
        describe_field("Email", "email", idLookup=True, length=80),
        describe_field("EmailBouncedDate", "datetime", label="Email Bounced Date"),
        _s("EmailBouncedReason", 255, "Email Bounced Reason"),
        describe_field("Fax", "phone", length=40),
        _flag("HasOptedOutOfEmail", "Email Opt Out"),
        _flag("HasOptedOutOfFax", "Fax Opt Out"),
        _pick("Industry", INDUSTRY),
        _flag("IsConverted", "Converted", updateable=False),
        _flag("IsUnreadByOwner", "Unread By Owner"),
        _s("Jigsaw", 20, "Data.com Key"),
        _pick("LeadSource", LEAD_SOURCE, "Lead Source"),
        describe_field("MobilePhone", "phone", label="Mobile Phone", length=40),
        describe_field("NumberOfEmployees", "int", label="Employees", digits=8),
        describe_field("Phone", "phone", length=40),
        _pick("Rating", RATING),
        _pick("Status", LEAD_STATUS, length=40, nillable=False, defaultedOnCreate=True,
              defaultValue=LEAD_STATUS[0]),
        _s("Title", 128),
        describe_field("Website", "url", length=255),
        *_common(),
    ]


def opportunity() -> list[dict[str, Any]]:
    """In the order a real describe lists them (so "Required fields are missing" names them alike)."""
    return [
        _flag("IsDeleted", "Deleted", **_READ_ONLY),
        _ref("AccountId", "Account", "Account", "Account ID"),
        _flag("IsPrivate", "Private"),
        _s("Name", 120, nameField=True, nillable=False),
        _description("Description"),
        # restricted in the emulator's org (see Account.Industry)
        _pick("StageName", STAGE_NAME, "Stage", restrictedPicklist=True, nillable=False),
        describe_field("Amount", "currency", precision=18, scale=2),
        describe_field("Probability", "percent", label="Probability (%)", precision=3, scale=0,
                       defaultedOnCreate=True),
        describe_field("ExpectedRevenue", "currency", label="Expected Amount", precision=18, scale=2,
                       calculated=True, **_READ_ONLY),
        describe_field("TotalOpportunityQuantity", "double", label="Quantity", precision=18, scale=2),
        describe_field("CloseDate", "date", label="Close Date", nillable=False),
        _pick("Type", OPPORTUNITY_TYPE, "Opportunity Type"),
        _s("NextStep", 255, "Next Step"),
        _pick("LeadSource", LEAD_SOURCE, "Lead Source"),
        _flag("IsClosed", "Closed", **_READ_ONLY),
        _flag("IsWon", "Won", **_READ_ONLY),
        _pick("ForecastCategory", ["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"],
              "Forecast Category", length=40, restrictedPicklist=True, nillable=False, defaultedOnCreate=True,
              **_READ_ONLY),
        _pick("ForecastCategoryName", FORECAST_CATEGORY_NAME, "Forecast Category", defaultedOnCreate=True),
        _flag("HasOpportunityLineItem", "Has Line Item", **_READ_ONLY),
        describe_field("LastActivityDate", "date", label="Last Activity", **_READ_ONLY),
        describe_field("FiscalQuarter", "int", label="Fiscal Quarter", digits=8, **_READ_ONLY),
        describe_field("FiscalYear", "int", label="Fiscal Year", digits=8, **_READ_ONLY),
        _s("Fiscal", 6, "Fiscal Period", **_READ_ONLY),
        _ref("ContactId", "Contact", "Contact", "Contact ID"),
        _flag("HasOpenActivity", "Has Open Activity", **_READ_ONLY),
        _flag("HasOverdueTask", "Has Overdue Task", **_READ_ONLY),
    ]
