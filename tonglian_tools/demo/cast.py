"""Who is who in the demo: the agencies, their chains, the applicant's records, the policy.

A citizen registers a business with one visit to the market regulator: the
regulator needs the tax bureau's clearance and the public security bureau's
residence certificate, and issues a licence that the other agencies receive.
The values follow the shipped catalog schemas (hub/catalog/schemas).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tonglian_tools.hub_process import OPERATOR_ORG

REGULATOR = "market-regulator"
TAX_BUREAU = "tax-bureau"
SECURITY_BUREAU = "public-security-bureau"

# Chain ids as the hub knows them.
REGULATOR_FABRIC = "fabric-amr"
REGULATOR_CUSTOM = "custom-amr"
TAX_CHAIN = "evm-tax"
SECURITY_CHAIN = "custom-psb"

# Namespaces on the custom ledgers (collections).
RESIDENCE_NS = "residence"
LICENCE_NS = "licences"
FORWARDED_NS = "licences-from-amr"

PURPOSE = "business-registration"
SECURITY_PURPOSE = "household-registration"

APPLICANT = "310115199203141234"
COMPANY = "91310115MA1K4TL001"

TAX_SCHEMA = "gov.tax.clearance/v1"
RESIDENCE_SCHEMA = "gov.residence.certificate/v1"
LICENCE_SCHEMA = "gov.license.business/v1"


def tax_clearance(today: date) -> dict[str, Any]:
    return {
        "taxpayer_id": APPLICANT,
        "status": "clear",
        "issued_on": today.replace(day=1).isoformat(),
        "valid_until": today.replace(year=today.year + 1).isoformat(),
        "amount_due": 0,
    }


def residence_certificate() -> dict[str, Any]:
    return {
        "person_id": APPLICANT,
        "address": {"city": "上海", "district": "浦东新区", "line": "张江路 88 号"},
        "valid_from": "2019-03-01",
        "status": "valid",
    }


def licence(today: date) -> dict[str, Any]:
    return {
        "licence_no": COMPANY,
        "holder": "上海通链科技有限公司",
        "status": "active",
        "issued_on": today.isoformat(),
        "scope": "软件开发; 信息技术咨询服务",
    }


def policy(regulator_chain: str) -> str:
    """The hub's policy: the regulator reads tax and residence records for business
    registration only; the security bureau reads the licences forwarded to it;
    operators manage everything."""
    return f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-read-everything
        chains: ["*"]
        purposes: ["*"]
  {REGULATOR}:
    rules:
      - name: regulator-tax-clearance
        chains: [{TAX_CHAIN}]
        schemas: ["gov.tax.clearance/*"]
        purposes: [{PURPOSE}]
      - name: regulator-residence
        chains: [{SECURITY_CHAIN}]
        namespaces: [{RESIDENCE_NS}]
        schemas: ["gov.residence.certificate/*"]
        purposes: [{PURPOSE}]
        predicates:             # "resident in the city today": dates, so any operand
          per_field_per_day: 3
          operators: [equals, less_or_equal, greater_or_equal]
      - name: regulator-own-licences
        chains: [{regulator_chain}]
        schemas: ["gov.license.business/*"]
        purposes: [{PURPOSE}]
  {SECURITY_BUREAU}:
    rules:
      - name: security-forwarded-licences
        chains: [{SECURITY_CHAIN}]
        namespaces: [{FORWARDED_NS}]
        schemas: ["gov.license.business/*"]
        purposes: [{SECURITY_PURPOSE}]
"""
