-- wrk script of bench/side_by_side.sh: one request shape per run, set by environment variables, a count of the
-- answers by status, and one result line appended to $SBS_RESULT when the run ends.
--
--   SBS_METHOD, SBS_PATH        the request (default GET and the URL's path)
--   SBS_AUTH                    a fixed Authorization header value
--   SBS_CONTENT_TYPE, SBS_BODY  a fixed body
--   SBS_LINES                   a file read one line per request, each line used once per run (split between
--                               wrk's threads); what is done with the line is SBS_LINE_AS:
--                                 bearer     Authorization: Bearer LINE
--                                 assertion  a client_credentials form with LINE as its client_assertion
--                                 sign_in    a holder's sign-in start, LINE the identification number and
--                                            SBS_PASSWORD the password
--                                 code       the code step of the sign-in challenge LINE, SBS_CODE the code
--                                 register   a citizen's registration, LINE the identification number (the
--                                            registry's Nguyễn Văn Hùng, male, 1990-01-01), SBS_PASSWORD
--                                 introspect an RFC 7662 introspection form with LINE as its token (the client's
--                                            credentials in SBS_AUTH)
--                               when a thread has used all its lines it starts again ("reused" counts how often)
--   SBS_EXPECT                  a string every 2xx answer's body must contain (`"active":true` for introspection):
--                               a 2xx without it is counted as unexpected, not as a success
--   SBS_THREADS                 wrk's -t, so that each thread takes its own share of the lines
--   SBS_RESULT                  where to append the result line
--   SBS_5XX, SBS_LABEL          where to append the first 5xx answer of each thread, labelled
--
-- Result line: requests/s ok/s p50_ms p99_ms requests 2xx 3xx 4xx 5xx 401 429 socket_errors reused 503 unexpected
-- (ok: the 2xx answers that were not unexpected)

local threads = {}
local next_id = 0

function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

local method = os.getenv("SBS_METHOD") or "GET"
local path = os.getenv("SBS_PATH") -- nil: the URL's path
local line_as = os.getenv("SBS_LINE_AS")
local assertion_form = "grant_type=client_credentials"
    .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="

local expect = os.getenv("SBS_EXPECT")
local lines = {}
local position = 0
local fixed = nil
s2, s3, s4, s5, s401, s429, s503, reused, unexpected = 0, 0, 0, 0, 0, 0, 0, 0, 0

local function base_headers()
    local headers = {}
    if os.getenv("SBS_AUTH") then headers["Authorization"] = os.getenv("SBS_AUTH") end
    if os.getenv("SBS_CONTENT_TYPE") then headers["Content-Type"] = os.getenv("SBS_CONTENT_TYPE") end
    return headers
end

function init(args)
    local file = os.getenv("SBS_LINES")
    if file then
        local count = tonumber(os.getenv("SBS_THREADS") or "1")
        local i = 0
        for line in io.lines(file) do
            if line ~= "" then
                if i % count == tid then table.insert(lines, line) end
                i = i + 1
            end
        end
        if #lines == 0 then error("no lines for thread " .. tid .. " in " .. file) end
    else
        fixed = wrk.format(method, path, base_headers(), os.getenv("SBS_BODY"))
    end
end

function request()
    if fixed then return fixed end
    position = position + 1
    if position > #lines then
        position = 1
        reused = reused + 1
    end
    local line = lines[position]
    local headers = base_headers()
    local body = os.getenv("SBS_BODY")
    local target = path
    if line_as == "assertion" then
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = assertion_form .. line
    elseif line_as == "sign_in" then
        headers["Content-Type"] = "application/json"
        body = '{"holder_kind": "citizen", "id_number": "' .. line .. '", "password": "'
            .. os.getenv("SBS_PASSWORD") .. '"}'
    elseif line_as == "register" then
        headers["Content-Type"] = "application/json"
        body = '{"holder_kind": "citizen", "id_number": "' .. line .. '", "full_name": "Nguyễn Văn Hùng", '
            .. '"date_of_birth": "1990-01-01", "gender": "male", "email": "r' .. line .. '@example.vn", '
            .. '"password": "' .. os.getenv("SBS_PASSWORD") .. '"}'
    elseif line_as == "code" then
        headers["Content-Type"] = "application/json"
        target = "/v1/holder-sessions/" .. line .. "/verify"
        body = '{"code": "' .. os.getenv("SBS_CODE") .. '"}'
    elseif line_as == "introspect" then
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = "token=" .. line
    else
        headers["Authorization"] = "Bearer " .. line
    end
    return wrk.format(method, target, headers, body)
end

function response(status, headers, body)
    if status >= 500 then
        if s5 == 0 then first5xx = status .. " " .. (body or "") end
        s5 = s5 + 1
        if status == 503 then s503 = s503 + 1 end
    elseif status >= 400 then
        s4 = s4 + 1
        if status == 401 then s401 = s401 + 1 elseif status == 429 then s429 = s429 + 1 end
    elseif status >= 300 then s3 = s3 + 1
    else
        s2 = s2 + 1
        if expect and not string.find(body or "", expect, 1, true) then unexpected = unexpected + 1 end
    end
end

function done(summary, latency, requests)
    local t = { s2 = 0, s3 = 0, s4 = 0, s5 = 0, s401 = 0, s429 = 0, s503 = 0, reused = 0, unexpected = 0 }
    for _, thread in ipairs(threads) do
        for name, _ in pairs(t) do t[name] = t[name] + (thread:get(name) or 0) end
    end
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local line = string.format("%.1f %.1f %.3f %.3f %d %d %d %d %d %d %d %d %d %d %d\n",
        summary.requests / seconds, (t.s2 - t.unexpected) / seconds, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, summary.requests, t.s2, t.s3, t.s4, t.s5, t.s401, t.s429,
        e.connect + e.read + e.write + e.timeout, t.reused, t.s503, t.unexpected)
    local out = os.getenv("SBS_RESULT")
    for _, thread in ipairs(threads) do
        local sample = thread:get("first5xx")
        if sample and os.getenv("SBS_5XX") then
            local f = assert(io.open(os.getenv("SBS_5XX"), "a"))
            f:write((os.getenv("SBS_LABEL") or "") .. ": " .. sample .. "\n")
            f:close()
        end
    end
    if out then
        local f = assert(io.open(out, "a"))
        f:write(line)
        f:close()
    end
    io.write("   result: " .. line)
end
