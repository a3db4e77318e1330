#!/bin/sh
# make-fixture.sh makes the upgrade fixtures of a Gatehouse release: a
# SQLite database and a plain-SQL pg_dump of a PostgreSQL database, both
# written by that release's own binary and holding rows in every table.
#
#   make-fixture.sh GATEHOUSE_BINARY OUTDIR [POSTGRES_ADMIN_DSN]
#
# It writes OUTDIR/gatehouse.db, OUTDIR/postgres.sql (when a DSN is given:
# a database gh_fixture is created there and dropped again) and
# OUTDIR/fixture.json (the passwords and tokens the upgrade test uses).
# Needs curl, jq, sqlite3 and, for PostgreSQL, psql and pg_dump.
#
# Release 2 (features, trials, grace, suspensions, events, webhooks,
# signing keys, persisted queries, background jobs) fills every table.
set -eu

bin=$1
out=$2
pgadmin=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)

admin_pw='fixture-admin-password'
user_pw='fixture-user-password'
port=18931
base=http://127.0.0.1:$port
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
server=

export GATEHOUSE_CONFIG=
export GATEHOUSE_AUTH_BCRYPT_COST=10
# Test data only: the secret that encrypts the fixture's signing keys.
# The time-based events' job runs every second (its keys fill a table).
export GATEHOUSE_EVENTS_TIMED_EVERY=1s
export GATEHOUSE_SIGNING_SECRET=Zml4dHVyZS1zaWduaW5nLXNlY3JldC0zMi1ieXRlcyE=

gql() { # gql TOKEN QUERY [VARIABLES-JSON] -> data (fails on errors)
	body=$(jq -nc --arg q "$2" --argjson v "${3:-{\}}" '{query: $q, variables: $v}')
	if [ -n "$1" ]; then
		res=$(curl -sS "$base/graphql" -H 'Content-Type: application/json' -H "Authorization: Bearer $1" -d "$body")
	else
		res=$(curl -sS "$base/graphql" -H 'Content-Type: application/json' -d "$body")
	fi
	if [ "$(printf '%s' "$res" | jq '.errors | length')" != 0 ]; then
		echo "graphql error: $res" >&2
		return 1
	fi
	printf '%s' "$res" | jq -c .data
}

login() { # login USERNAME PASSWORD -> token
	gql "" 'mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}' \
		"$(jq -nc --arg u "$1" --arg p "$2" '{u:$u,p:$p}')" | jq -r .login.token
}

populate() { # populate DSN NAME: migrate, fill through the API, stop
	dsn=$1
	"$bin" migrate --db "$dsn"
	printf '%s\n' "$admin_pw" | "$bin" user create --db "$dsn" --username root --role admin --password-stdin
	printf 'query Me { me { username } }\n' >"$work/me.graphql"
	"$bin" queries add --db "$dsn" "$work/me.graphql"
	"$bin" keys rotate --db "$dsn"
	"$bin" serve --db "$dsn" --listen 127.0.0.1:$port 2>"$work/$2.log" &
	server=$!
	i=0
	until curl -sf "$base/readyz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 300 ] || { cat "$work/$2.log" >&2; exit 1; }
		sleep 0.1
	done

	root=$(login root "$admin_pw")
	# A webhook endpoint first, so that every change below queues a
	# delivery (to an address the server refuses to reach: they stay in
	# the outbox).
	gql "$root" 'mutation{createWebhookEndpoint(input:{url:"https://hooks.invalid/gatehouse",description:"fixture",eventTypes:["user.*","user_package.*"]}){secret}}' >/dev/null
	gql "$root" 'mutation{createFeature(input:{key:"moe_gatherer",name:"Moe gatherer",kind:SWITCH}){id}}' >/dev/null
	gql "$root" 'mutation{createFeature(input:{key:"cloud_sync",name:"Cloud sync",description:"Sync to the cloud",kind:SWITCH}){id}}' >/dev/null
	gql "$root" 'mutation{createFeature(input:{key:"projects",name:"Projects",kind:LIMIT}){id}}' >/dev/null
	gold=$(gql "$root" 'mutation{createPackage(input:{name:"Gold",detail:"The gold tier",days:30,graceDays:3,contents:[{name:"Moe gatherer",featureKey:"moe_gatherer"},{name:"Cloud sync",featureKey:"cloud_sync"},{name:"Ten projects",featureKey:"projects",limit:10}]}){id}}' | jq -r .createPackage.id)
	silver=$(gql "$root" 'mutation{createPackage(input:{name:"Silver",days:7,contents:[{name:"Moe gatherer",featureKey:"moe_gatherer"}]}){id}}' | jq -r .createPackage.id)
	trial=$(gql "$root" 'mutation{createPackage(input:{name:"Trial",days:14,trial:true,contents:[{name:"Two projects",featureKey:"projects",limit:2}]}){id}}' | jq -r .createPackage.id)
	mk() { gql "$root" 'mutation($u:String!,$p:String!,$r:Role!,$d:Boolean!){createUser(input:{username:$u,password:$p,role:$r,disabled:$d}){id}}' \
		"$(jq -nc --arg u "$1" --arg p "$user_pw" --arg r "$2" --argjson d "$3" '{u:$u,p:$p,r:$r,d:$d}')" | jq -r .createUser.id; }
	alice=$(mk alice USER false)
	bob=$(mk bob USER false)
	mk carol ADMIN false >/dev/null
	mk dora USER true >/dev/null
	as() { gql "$root" 'mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u,packageID:$p}){id}}' \
		"$(jq -nc --arg u "$1" --arg p "$2" '{u:$u,p:$p}')" >/dev/null; }
	as "$alice" "$gold"
	as "$alice" "$silver"
	as "$bob" "$gold"
	as "$bob" "$trial"
	# One assignment suspended.
	sus=$(gql "$root" 'query($u:ID!){node(id:$u){... on User{packages{id package{name}}}}}' "$(jq -nc --arg u "$alice" '{u:$u}')" \
		| jq -r '.node.packages[] | select(.package.name == "Silver") | .id')
	gql "$root" 'mutation($id:ID!){suspendUserPackage(id:$id,reason:"chargeback"){id}}' "$(jq -nc --arg id "$sus" '{id:$id}')" >/dev/null
	# API sessions: alice's from a sign-in, bob's issued by the admin, one
	# of alice's ended.
	alice_tok=$(login alice "$user_pw")
	bob_tok=$(gql "$root" 'mutation($u:ID!){issueSession(input:{userID:$u,label:"build server"}){token}}' \
		"$(jq -nc --arg u "$bob" '{u:$u}')" | jq -r .issueSession.token)
	# An entitlement token for alice (the signing key is made on demand).
	gql "$alice_tok" '{entitlementToken{token}}' >/dev/null
	ended=$(login alice "$user_pw")
	gql "$ended" 'mutation{logout}' >/dev/null
	# A dashboard session.
	curl -sS -o /dev/null -c "$work/$2.jar" "$base/admin/login" \
		-H "Origin: $base" -H 'Sec-Fetch-Site: same-origin' \
		--data-urlencode username=root --data-urlencode "password=$admin_pw"
	cookie=$(awk '$6 == "gatehouse_admin" {print $7}' "$work/$2.jar")
	[ -n "$cookie" ] || { echo "no dashboard cookie" >&2; exit 1; }
	# Failed sign-ins (login_throttles rows for a username and an address).
	for _ in 1 2 3; do
		gql "" 'mutation{login(input:{username:"mallory",password:"not-the-password"}){token}}' >/dev/null 2>&1 || true
	done

	jq -n --arg admin root --arg admin_pw "$admin_pw" --arg user_pw "$user_pw" \
		--arg alice "$alice_tok" --arg bob "$bob_tok" --arg cookie "$cookie" --arg secret "$GATEHOUSE_SIGNING_SECRET" \
		'{admin: $admin, admin_password: $admin_pw, user_password: $user_pw,
		  api_tokens: {alice: $alice, bob: $bob}, dashboard_cookie: $cookie, signing_secret: $secret}' >"$work/$2.json"
	# Let the background jobs run once (leases, time-based events, webhook
	# attempts) before stopping.
	sleep 3
	kill -INT "$server"
	wait "$server" || true
	server=
}

rm -f "$out/gatehouse.db" "$out/gatehouse.db-wal" "$out/gatehouse.db-shm"
populate "$work/gatehouse.db" sqlite
# This release's server may exit before its last connection closes, which
# leaves the write-ahead log beside the database: fold it in, as the next
# open would, so that the fixture is one file.
if [ -s "$work/gatehouse.db-wal" ]; then
	sqlite3 "$work/gatehouse.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
fi
cp "$work/gatehouse.db" "$out/gatehouse.db"
[ ! -s "$work/gatehouse.db-wal" ] || { echo "the WAL was not checkpointed" >&2; exit 1; }
jq '{sqlite: .}' "$work/sqlite.json" >"$out/fixture.json"

if [ -n "$pgadmin" ]; then
	psql -q "$pgadmin" -c 'DROP DATABASE IF EXISTS gh_fixture' -c 'CREATE DATABASE gh_fixture'
	pgdsn=$(printf '%s' "$pgadmin" | sed -E 's#^(postgres(ql)?://[^/]*)/[^?]*#\1/gh_fixture#')
	populate "$pgdsn" postgres
	pg_dump --no-owner --no-privileges --inserts "$pgdsn" >"$out/postgres.sql"
	psql -q "$pgadmin" -c 'DROP DATABASE gh_fixture WITH (FORCE)'
	jq --slurpfile pg "$work/postgres.json" '. + {postgres: $pg[0]}' "$out/fixture.json" >"$work/f.json"
	mv "$work/f.json" "$out/fixture.json"
fi
echo "fixtures written to $out"
