"""localstripe, with the Stripe endpoints Charter calls that localstripe 1.15 lacks.

localstripe is a stateful fake of Stripe's API (customers, plans, subscriptions, invoices,
cards that succeed or fail) that also delivers signed webhooks to URLs registered at
`POST /_config/webhooks/{id}`. It has no Checkout Sessions, Customer Portal sessions or
meter events, so this launcher adds them as localstripe objects in the same store, with
the same checks Stripe makes on what Charter sends (the customer and the price must
exist):

- `POST /v1/checkout/sessions` (mode `subscription`, one line item with a price), and
  `POST /_test/checkout/sessions/{id}/complete` (`card`: a test card number), which does
  what a customer paying on Stripe's hosted page does: attaches the card, creates the
  subscription (localstripe invoices and charges it, and sends its events) and sends
  `checkout.session.completed`; `GET /_test/checkout/sessions/{id}` shows a session with
  its price;
- `POST /v1/billing_portal/sessions`;
- `POST /v1/billing/meter_events`, kept per customer (`GET /_test/meter_events`); an
  `identifier` already seen is refused as Stripe does, and (for the three endpoints) a
  request repeating an `Idempotency-Key` with the same parameters gets the first answer.

Usage: python localstripe_plus.py --port N
"""

import argparse
import logging
import socket
import time

from aiohttp import web

from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import (Customer, Event, Plan, StripeObject, Subscription,
                                   Token, schedule_webhook, store)

# Tests start from nothing and may run side by side: no shared pickle on disk.
resources.Store.dump_to_disk = lambda self: None


class CheckoutSession(StripeObject):
    object = 'checkout.session'
    _id_prefix = 'cs_test_'

    def __init__(self, mode=None, customer=None, line_items=None, success_url=None,
                 cancel_url=None, client_reference_id=None, metadata=None,
                 subscription_data=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        try:
            assert mode == 'subscription'
            assert type(customer) is str and customer.startswith('cus_')
            assert type(line_items) is list and len(line_items) == 1
            assert type(line_items[0].get('price')) is str
            assert type(success_url) is str and success_url.startswith('http')
        except AssertionError:
            raise UserError(400, 'Bad request')
        Customer._api_retrieve(customer)
        Plan._api_retrieve(line_items[0]['price'])
        super().__init__()
        now = int(time.time())
        self.mode = mode
        self.customer = customer
        self.client_reference_id = client_reference_id
        self.metadata = metadata or {}
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.url = 'https://checkout.stripe.test/c/pay/' + self.id
        self.status = 'open'
        self.payment_status = 'unpaid'
        self.subscription = None
        self.expires_at = now + 86400
        self.automatic_tax = {'enabled': False, 'liability': None, 'provider': None,
                              'status': None}
        self.custom_fields = []
        self.custom_text = {'after_submit': None, 'shipping_address': None,
                            'submit': None, 'terms_of_service_acceptance': None}
        self.payment_method_types = ['card']
        self.shipping_options = []
        self._price = line_items[0]['price']

    def _complete(self, card):
        if self.status != 'open':
            raise UserError(400, 'This Checkout Session is not open')
        token = Token(card={'number': card, 'exp_month': '12', 'exp_year': '2040',
                            'cvc': '123'})
        Customer._api_add_source(self.customer, source=token.id)
        sub = Subscription(customer=self.customer, items=[{'plan': self._price}],
                           metadata=self.metadata)
        self.subscription = sub.id
        self.status = 'complete'
        self.payment_status = 'paid' if sub.status == 'active' else 'unpaid'
        schedule_webhook(Event('checkout.session.completed', self))
        return self


class PortalSession(StripeObject):
    object = 'billing_portal.session'
    _id_prefix = 'bps_'

    def __init__(self, customer=None, return_url=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        if type(customer) is not str:
            raise UserError(400, 'Bad request')
        Customer._api_retrieve(customer)
        super().__init__()
        self.customer = customer
        self.return_url = return_url
        self.configuration = 'bpc_default'
        self.customer_account = None
        self.flow = None
        self.locale = None
        self.on_behalf_of = None
        self.url = 'https://billing.stripe.test/p/session/' + self.id


class MeterEvent(StripeObject):
    object = 'billing.meter_event'

    def __init__(self, event_name=None, payload=None, identifier=None, timestamp=None,
                 **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        try:
            assert type(event_name) is str and event_name
            assert type(payload) is dict
            assert type(payload.get('stripe_customer_id')) is str
            assert int(payload.get('value')) >= 0
            assert type(identifier) is str and identifier
        except (AssertionError, TypeError, ValueError):
            raise UserError(400, 'Bad request')
        Customer._api_retrieve(payload['stripe_customer_id'])
        if store.get('billing.meter_event:' + identifier) is not None:
            raise UserError(400, 'An event with this identifier already exists')
        super().__init__(id=identifier)
        self.event_name = event_name
        self.identifier = identifier
        self.payload = payload
        self.timestamp = int(timestamp or time.time())


def create(cls):
    async def handler(request):
        data = await server.get_post_data(request) or {}
        # Stripe's idempotent requests: the same key and parameters get the first answer.
        key = request.headers.get('Idempotency-Key')
        if key is not None:
            seen = _idempotent.get(key)
            if seen is not None:
                if seen[0] != data:
                    raise UserError(400, 'Keys for idempotent requests can only be used '
                                         'with the same parameters they were first used with')
                return server.json_response(seen[1])
        answer = cls(**data)._export()
        if key is not None:
            _idempotent[key] = (data, answer)
        return server.json_response(answer)
    return handler


_idempotent = {}


async def complete_checkout(request):
    data = await server.get_post_data(request) or {}
    session = CheckoutSession._api_retrieve(request.match_info['id'])
    return server.json_response(session._complete(data.get('card', '4242424242424242'))._export())


async def show_checkout(request):
    session = CheckoutSession._api_retrieve(request.match_info['id'])
    return server.json_response(dict(session._export(), price=session._price))


async def meter_events(request):
    events = [v._export() for k, v in store.items() if k.startswith('billing.meter_event:')]
    return server.json_response({'object': 'list', 'data': events})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    app = server.app
    app.router.add_post('/v1/checkout/sessions', create(CheckoutSession))
    app.router.add_post('/v1/billing_portal/sessions', create(PortalSession))
    app.router.add_post('/v1/billing/meter_events', create(MeterEvent))
    app.router.add_get('/_test/checkout/sessions/{id}', show_checkout)
    app.router.add_post('/_test/checkout/sessions/{id}/complete', complete_checkout)
    app.router.add_get('/_test/meter_events', meter_events)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', args.port))
    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == '__main__':
    main()
