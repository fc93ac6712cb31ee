"""Shopify's Storefront API schema subset and its executor, for the fake Shopify.

The Storefront API (POST /api/{version}/graphql.json) is the buyer-facing
GraphQL API: the same `products` connection and search syntax as the Admin
API, over another schema (https://shopify.dev/docs/api/storefront):

- Product has `priceRange` (not `priceRangeV2`), `availableForSale`, a
  nullable `totalInventory` that needs the unauthenticated_read_product_inventory
  scope, and no `legacyResourceId`, `status` or `tracksInventory`;
- ProductVariant.price is a MoneyV2 object, `quantityAvailable` needs the
  inventory scope;
- ProductSortKeys: BEST_SELLING CREATED_AT ID PRICE PRODUCT_TYPE RELEVANCE
  TITLE UPDATED_AT VENDOR;
- every products read needs unauthenticated_read_product_listings;
- answers carry no `extensions.cost`: the Storefront API has no cost bucket.

Validation and execution are shopify_graphql.Execution's; only the schema and
the resolvers differ.
"""

import re

from shopify_graphql import (CONNECTION_TYPES, ENUMS, SCALARS, Execution, paginate,
                             parse_schema)

LISTINGS = "unauthenticated_read_product_listings"
INVENTORY = "unauthenticated_read_product_inventory"
# A Storefront token's default scopes in the fake (what a Headless channel
# token is given for reading products).
DEFAULT_SCOPES = "%s,%s" % (LISTINGS, INVENTORY)

# 401 body of the Storefront API: `errors` is a list (unlike the Admin
# API's string) with the code UNAUTHORIZED and an empty message.
UNAUTHORIZED = {"errors": [{"message": "", "extensions": {"code": "UNAUTHORIZED"}}]}

_CONNECTION_ARGS = {"first": "Int", "last": "Int", "after": "String", "before": "String",
                    "reverse": "Boolean"}

SCHEMA = {
    "QueryRoot": {
        "products": ("ProductConnection!", dict(_CONNECTION_ARGS, query="String",
                                                sortKey="ProductSortKeys")),
        "product": ("Product", {"id": "ID", "handle": "String"}),
        "shop": ("Shop!", {}),
    },
    "Shop": {"id": ("ID!", {}), "name": ("String!", {}), "description": ("String", {}),
             "moneyFormat": ("String!", {})},
    **CONNECTION_TYPES,
    "Product": {
        "id": ("ID!", {}), "title": ("String!", {}), "handle": ("String!", {}),
        "vendor": ("String!", {}), "productType": ("String!", {}),
        "description": ("String!", {"truncateAt": "Int"}), "descriptionHtml": ("HTML!", {}),
        "tags": ("[String!]!", {}), "availableForSale": ("Boolean!", {}),
        "totalInventory": ("Int", {}), "isGiftCard": ("Boolean!", {}),
        "createdAt": ("DateTime!", {}), "updatedAt": ("DateTime!", {}),
        "publishedAt": ("DateTime!", {}),
        "priceRange": ("ProductPriceRange!", {}),
        "variants": ("ProductVariantConnection!", dict(_CONNECTION_ARGS)),
        "metafield": ("Metafield", {"namespace": "String", "key": "String!"}),
    },
    "ProductPriceRange": {"minVariantPrice": ("MoneyV2!", {}), "maxVariantPrice": ("MoneyV2!", {})},
    "MoneyV2": {"amount": ("Decimal!", {}), "currencyCode": ("CurrencyCode!", {})},
    "ProductVariantConnection": {"edges": ("[ProductVariantEdge!]!", {}),
                                 "nodes": ("[ProductVariant!]!", {}), "pageInfo": ("PageInfo!", {})},
    "ProductVariantEdge": {"cursor": ("String!", {}), "node": ("ProductVariant!", {})},
    "ProductVariant": {"id": ("ID!", {}), "title": ("String!", {}), "sku": ("String", {}),
                       "availableForSale": ("Boolean!", {}), "quantityAvailable": ("Int", {}),
                       "currentlyNotInStock": ("Boolean!", {}), "price": ("MoneyV2!", {})},
    "Metafield": {"id": ("ID!", {}), "namespace": ("String!", {}), "key": ("String!", {}),
                  "value": ("String!", {}), "type": ("String!", {})},
}
STOREFRONT_ENUMS = {
    # https://shopify.dev/docs/api/storefront/2025-01/enums/ProductSortKeys
    "ProductSortKeys": ["BEST_SELLING", "CREATED_AT", "ID", "PRICE", "PRODUCT_TYPE", "RELEVANCE",
                        "TITLE", "UPDATED_AT", "VENDOR"],
    "CurrencyCode": ENUMS["CurrencyCode"],
}
TYPES = parse_schema(SCHEMA)


class StorefrontExecution(Execution):
    """One Storefront API operation against the catalog."""

    types, enums, scalars = TYPES, STOREFRONT_ENUMS, SCALARS
    free_types = {"PageInfo", "ProductEdge", "ProductVariantEdge"}

    def listings(self, field):
        self.need_scope(field, LISTINGS, ())

    def resolve_QueryRoot_shop(self, obj, args, f, path):
        return {"id": "gid://shopify/Shop/1", "name": "Readgate fake shop", "description": None,
                "moneyFormat": "${{amount}}"}

    def resolve_QueryRoot_products(self, obj, args, f, path):
        self.listings("products")
        return self.fake.products_connection(args, path, self, storefront=True)

    def resolve_QueryRoot_product(self, obj, args, f, path):
        self.listings("product")
        if args.get("id") is not None:
            m = re.fullmatch(r"gid://shopify/Product/(\d+)", str(args["id"]))
            return self.fake.product_by_id(int(m.group(1))) if m else None
        if args.get("handle") is not None:
            return self.fake.product_by_handle(args["handle"])
        raise self.error("Field 'product' needs one of id or handle", f.pos, code="BAD_REQUEST")

    def resolve_Product_totalInventory(self, obj, args, f, path):
        self.need_scope("totalInventory", INVENTORY, ())
        return obj["totalInventory"]

    def resolve_Product_variants(self, obj, args, f, path):
        items = [{"id": v["id"], "title": v["title"], "sku": v["sku"],
                  "availableForSale": v["availableForSale"],
                  "currentlyNotInStock": v["availableForSale"] is False,
                  "_quantity": v["inventoryQuantity"],
                  "price": None if v["price"] is None else {"amount": v["price"], "currencyCode": "USD"}}
                 for v in obj["_variants"]]
        if args.get("reverse"):
            items.reverse()
        return paginate(items, args, lambda v: ((0, v["id"]), 0), "POSITION", "variants", self)

    def resolve_ProductVariant_quantityAvailable(self, obj, args, f, path):
        self.need_scope("quantityAvailable", INVENTORY, ())
        return obj["_quantity"]
