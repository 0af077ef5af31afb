/*
 * dockerflow's own `moment`: the part of the moment.js / moment-timezone API that workflow
 * expressions use, written for dockerflow (English locale only).
 *
 * Time zones: quickjs has no zone database, so the host (dockerflow/expr/runtime.py) feeds
 * offset tables through __dockerflowMomentHost.addZone(name, json).  Asking for a zone that was
 * never fed records its name in host.missing and throws; the host then loads the zone and runs
 * the expression again.
 *
 * A moment is { _ms: UTC milliseconds (NaN when invalid), _zone: zone, _utc: UTC mode }.
 * Like moment.js, add/subtract/startOf/endOf/setters change the moment in place.
 */
var __dockerflowMomentHost;
var moment = (function () {
  "use strict";

  var SECOND = 1000, MINUTE = 60000, HOUR = 3600000, DAY = 86400000;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  var WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  var MONTHS_SHORT = MONTHS.map(function (m) { return m.slice(0, 3); });
  var WEEKDAYS_SHORT = WEEKDAYS.map(function (d) { return d.slice(0, 3); });
  var WEEKDAYS_MIN = WEEKDAYS.map(function (d) { return d.slice(0, 2); });
  var LOCALE_FORMATS = {
    LT: "h:mm A", LTS: "h:mm:ss A", L: "MM/DD/YYYY", LL: "MMMM D, YYYY",
    LLL: "MMMM D, YYYY h:mm A", LLLL: "dddd, MMMM D, YYYY h:mm A",
    l: "M/D/YYYY", ll: "MMM D, YYYY", lll: "MMM D, YYYY h:mm A", llll: "ddd, MMM D, YYYY h:mm A"
  };
  var DEFAULT_FORMAT = "YYYY-MM-DDTHH:mm:ssZ";
  var DEFAULT_FORMAT_UTC = "YYYY-MM-DDTHH:mm:ss[Z]";

  // ---------------------------------------------------------------- small helpers

  function pad(n, width) {
    var s = String(Math.abs(n));
    while (s.length < width) s = "0" + s;
    return (n < 0 ? "-" : "") + s;
  }
  function truncate(x) { return x < 0 ? Math.ceil(x) || 0 : Math.floor(x); }
  function mod(a, b) { return ((a % b) + b) % b; }
  function isLeap(y) { return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0; }
  function daysIn(y, m) {
    var mm = mod(m, 12);
    y += (m - mm) / 12;
    return mm === 1 ? (isLeap(y) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mm];
  }
  function ordinal(n) {
    var tens = n % 100, ones = n % 10;
    if (tens >= 11 && tens <= 13) return n + "th";
    return n + (ones === 1 ? "st" : ones === 2 ? "nd" : ones === 3 ? "rd" : "th");
  }
  // Milliseconds of a wall-clock time read as if it were UTC (years 0-99 are not shifted).
  function wallMs(y, M, D, h, mi, s, ms) {
    var d = new Date(0);
    d.setUTCFullYear(y, M, D);
    d.setUTCHours(h, mi, s, ms);
    return d.getTime();
  }

  // ---------------------------------------------------------------- zones

  var host = { data: {}, missing: [], now: null, defaultName: "UTC", defaultZone: null };
  var zoneCache = {};

  function FixedZone(minutes, label) {
    this.minutes = minutes;
    this.label = label;
  }
  FixedZone.prototype.offsetMs = function () { return this.minutes * MINUTE; };
  FixedZone.prototype.abbr = function () { return this.label; };
  FixedZone.prototype.toUtc = function (wall) { return wall - this.minutes * MINUTE; };
  FixedZone.prototype.name = undefined;

  function TableZone(name, table) {
    this.name = name;
    this.t = table.t;
    this.o = table.o;
    this.a = table.a;
  }
  TableZone.prototype.index = function (ms) {
    var t = this.t, sec = ms / SECOND, lo = 0, hi = t.length;
    while (lo < hi) {          // count of transitions at or before `sec`
      var mid = (lo + hi) >> 1;
      if (t[mid] <= sec) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
  TableZone.prototype.offsetMs = function (ms) { return this.o[this.index(ms)] * SECOND; };
  TableZone.prototype.abbr = function (ms) { return this.a[this.index(ms)]; };
  // UTC instant of a wall-clock time: of two candidates (a repeated hour) the earlier wins;
  // a wall time skipped by a forward jump is moved forward by the jump, like moment-timezone.
  TableZone.prototype.toUtc = function (wall) {
    var before = this.offsetMs(wall - DAY), after = this.offsetMs(wall + DAY);
    var early = wall - before, late = wall - after;
    var earlyOk = this.offsetMs(early) === before, lateOk = this.offsetMs(late) === after;
    if (earlyOk && lateOk) return Math.min(early, late);
    if (earlyOk) return early;
    if (lateOk) return late;
    return early;
  };

  var UTC = new FixedZone(0, "UTC");

  function parseOffset(text) {   // "+09:00", "-0530", "+09", "Z" -> minutes, or null
    var m = /^\s*(?:(Z)|([+-])(\d\d):?(\d\d)?)\s*$/i.exec(text);
    if (!m) return null;
    if (m[1]) return 0;
    var minutes = +m[3] * 60 + +(m[4] || 0);
    return m[2] === "-" ? -minutes : minutes;
  }

  function getZone(name) {
    if (name instanceof FixedZone || name instanceof TableZone) return name;
    var key = String(name);
    var zone = zoneCache[key];
    if (zone) return zone;
    var minutes = parseOffset(key);
    if (minutes !== null) {
      zone = new FixedZone(minutes, "");
    } else {
      var table = host.data[key];
      if (table === undefined) {
        host.missing.push(key);
        throw new Error("time zone data not loaded: " + key);
      }
      if (table === null) throw new RangeError("Unknown time zone: " + key);
      zone = new TableZone(key, table);
    }
    zoneCache[key] = zone;
    return zone;
  }

  function defaultZone() {
    if (!host.defaultZone) host.defaultZone = getZone(host.defaultName);
    return host.defaultZone;
  }

  function nowMs() { return host.now !== null ? host.now : Date.now(); }

  // ---------------------------------------------------------------- the Moment type

  function Moment(ms, zone, utc) {
    this._ms = ms;
    this._zone = zone;
    this._utc = !!utc;
  }
  var proto = Moment.prototype;

  function isMoment(x) { return x instanceof Moment; }
  function offsetOf(m) { return m._zone.offsetMs(m._ms); }

  function fieldsOf(m) {
    var d = new Date(m._ms + offsetOf(m));
    return {
      year: d.getUTCFullYear(), month: d.getUTCMonth(), date: d.getUTCDate(),
      hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(),
      millisecond: d.getUTCMilliseconds(), day: d.getUTCDay()
    };
  }
  function setFields(m, f) {
    m._ms = m._zone.toUtc(wallMs(f.year, f.month, f.date, f.hour, f.minute, f.second, f.millisecond));
    return m;
  }

  // ---------------------------------------------------------------- units

  var UNITS = {};
  function unitNames(canonical, names) {
    names.split(" ").forEach(function (n) { UNITS[n] = canonical; });
  }
  unitNames("year", "y year years");
  unitNames("quarter", "Q quarter quarters");
  unitNames("month", "M month months");
  unitNames("week", "w week weeks");
  unitNames("isoWeek", "W isoWeek isoWeeks isoweek isoweeks");
  unitNames("day", "d day days");
  unitNames("date", "D date dates");
  unitNames("hour", "h hour hours");
  unitNames("minute", "m minute minutes");
  unitNames("second", "s second seconds");
  unitNames("millisecond", "ms millisecond milliseconds");
  unitNames("dayOfYear", "DDD dayOfYear dayOfYears dayofyear");
  unitNames("weekday", "e weekday weekdays");
  unitNames("isoWeekday", "E isoWeekday isoWeekdays isoweekday");

  function normalizeUnit(unit) {
    if (unit === undefined || unit === null) return undefined;
    var u = String(unit);
    return UNITS[u] || UNITS[u.toLowerCase()] || UNITS[u.replace(/s$/, "")];
  }

  // ---------------------------------------------------------------- durations

  function Duration(ms, days, months) {
    this._milliseconds = ms;
    this._days = days;
    this._months = months;
  }
  var UNIT_MS = { millisecond: 1, second: SECOND, minute: MINUTE, hour: HOUR };

  // {ms, days, months} for add(amount, unit) / add({...}) / add(duration)
  function toDuration(amount, unit) {
    if (amount instanceof Duration) return amount;
    if (isMoment(amount)) throw new TypeError("cannot add a moment to a moment");
    var parts = {};
    if (amount !== null && typeof amount === "object") {
      parts = amount;
    } else if (typeof amount === "string" && isNaN(+amount) && unit !== undefined) {
      parts[amount] = unit;      // legacy order: add("days", 1)
    } else {
      parts[unit === undefined ? "ms" : unit] = amount;
    }
    var d = new Duration(0, 0, 0);
    Object.keys(parts).forEach(function (key) {
      var n = +parts[key], u = normalizeUnit(key);
      if (isNaN(n)) n = 0;
      if (u === "year") d._months += n * 12;
      else if (u === "quarter") d._months += n * 3;
      else if (u === "month") d._months += n;
      else if (u === "week" || u === "isoWeek") d._days += n * 7;
      else if (u === "day" || u === "date") d._days += n;
      else if (UNIT_MS[u]) d._milliseconds += n * UNIT_MS[u];
      else if (u === undefined && key !== "ms") throw new RangeError("Invalid unit: " + key);
    });
    return d;
  }

  function shift(m, duration, sign) {
    if (!m.isValid()) return m;
    var ms = Math.round(duration._milliseconds) * sign;
    var days = Math.round(duration._days) * sign;
    var months = Math.round(duration._months) * sign;
    if (ms) m._ms += ms;
    if (days || months) {
      var f = fieldsOf(m);
      if (months) {
        var target = f.month + months;
        f.year += Math.floor(target / 12);
        f.month = mod(target, 12);
        f.date = Math.min(f.date, daysIn(f.year, f.month));
      }
      f.date += days;
      setFields(m, f);
    }
    return m;
  }

  var DAYS_PER_MONTH = 146097 / 4800;   // the mean Gregorian month
  var DURATION_UNITS_MS = {
    millisecond: 1, second: SECOND, minute: MINUTE, hour: HOUR, day: DAY, week: 7 * DAY
  };
  Duration.prototype.as = function (unit) {
    var u = normalizeUnit(unit) || "millisecond";
    if (u === "date") u = "day";
    if (u === "month" || u === "year" || u === "quarter") {
      var months = this._months + (this._days + this._milliseconds / DAY) / DAYS_PER_MONTH;
      return u === "month" ? months : u === "quarter" ? months / 3 : months / 12;
    }
    var total = this._milliseconds + this._days * DAY + this._months * DAYS_PER_MONTH * DAY;
    return total / DURATION_UNITS_MS[u];
  };
  ["Milliseconds", "Seconds", "Minutes", "Hours", "Days", "Weeks", "Months", "Quarters", "Years"]
    .forEach(function (name) {
      Duration.prototype["as" + name] = function () { return this.as(name.toLowerCase()); };
    });
  Duration.prototype.valueOf = function () { return this.as("ms"); };
  Duration.prototype.toJSON = function () { return this.toISOString(); };
  Duration.prototype.toISOString = function () {
    var total = this._milliseconds, sign = this.as("ms") < 0 ? "-" : "";
    var y = truncate(this._months / 12), M = this._months % 12, d = this._days;
    var h = truncate(total / HOUR), mi = truncate((total % HOUR) / MINUTE);
    var s = (total % MINUTE) / SECOND;
    var out = "P" + (y ? Math.abs(y) + "Y" : "") + (M ? Math.abs(M) + "M" : "") + (d ? Math.abs(d) + "D" : "");
    var time = (h ? Math.abs(h) + "H" : "") + (mi ? Math.abs(mi) + "M" : "") + (s ? Math.abs(s) + "S" : "");
    if (!y && !M && !d && !time) return "P0D";
    return sign + out + (time ? "T" + time : "");
  };
  Duration.prototype.toString = Duration.prototype.toISOString;
  [["milliseconds", function (d) { return truncate(d._milliseconds % SECOND); }],
   ["seconds", function (d) { return truncate(d._milliseconds / SECOND) % 60; }],
   ["minutes", function (d) { return truncate(d._milliseconds / MINUTE) % 60; }],
   ["hours", function (d) { return truncate(d._milliseconds / HOUR); }],
   ["days", function (d) { return d._days; }],
   ["months", function (d) { return d._months % 12; }],
   ["years", function (d) { return truncate(d._months / 12); }]].forEach(function (pair) {
    Duration.prototype[pair[0]] = function () { return pair[1](this); };
  });
  Duration.prototype.add = function (amount, unit) {
    var d = toDuration(amount, unit);
    this._milliseconds += d._milliseconds; this._days += d._days; this._months += d._months;
    return this;
  };
  Duration.prototype.subtract = function (amount, unit) {
    var d = toDuration(amount, unit);
    this._milliseconds -= d._milliseconds; this._days -= d._days; this._months -= d._months;
    return this;
  };

  function duration(amount, unit) {
    if (typeof amount === "string" && /^-?P/i.test(amount)) return parseIsoDuration(amount);
    var d = toDuration(amount === undefined ? 0 : amount, unit);
    return new Duration(d._milliseconds, d._days, d._months);
  }
  function parseIsoDuration(text) {
    var m = /^(-)?P(?:([\d.]+)Y)?(?:([\d.]+)M)?(?:([\d.]+)W)?(?:([\d.]+)D)?(?:T(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?)?$/i.exec(text);
    if (!m) return new Duration(NaN, NaN, NaN);
    var sign = m[1] ? -1 : 1, n = function (i) { return +(m[i] || 0) * sign; };
    return new Duration(n(6) * HOUR + n(7) * MINUTE + n(8) * SECOND, n(4) * 7 + n(5), n(2) * 12 + n(3));
  }

  // ---------------------------------------------------------------- formatting

  var TOKEN_RE = /\[[^\]]*\]|LTS|LT|LLLL|LLL|LL|L|llll|lll|ll|l|YYYYYY|YYYY|YY|Y|Qo|Q|MMMM|MMM|Mo|MM|M|DDDD|DDDo|DDD|Do|DD|D|dddd|ddd|dd|do|d|E|e|GGGG|GG|gggg|gg|Wo|WW|W|wo|ww|w|HH|H|hh|h|kk|k|mm|m|ss|s|S{1,9}|A|a|ZZ|Z|zz|z|X|x|[\s\S]/g;

  function tokenize(format) { return String(format).match(TOKEN_RE) || []; }

  // Week numbering: `dow` is the first day of the week, `doy` fixes week 1 (moment's convention:
  // week 1 holds January (7 + dow - doy)).  en: dow 0, doy 6; ISO: dow 1, doy 4.
  function dayNumber(y, M, D) { return Math.floor(wallMs(y, M, D, 0, 0, 0, 0) / DAY); }
  function weekOf(f, dow, doy) {
    var firstWeekStart = function (y) {
      var anchor = dayNumber(y, 0, 7 + dow - doy);
      return anchor - mod(mod(anchor + 4, 7) - dow, 7);   // day 0 (1970-01-01) was a Thursday
    };
    var n = dayNumber(f.year, f.month, f.date), year = f.year, start = firstWeekStart(year);
    if (n < start) {
      year -= 1;
      start = firstWeekStart(year);
    } else if (n >= firstWeekStart(year + 1)) {
      year += 1;
      start = firstWeekStart(year);
    }
    return { week: Math.floor((n - start) / 7) + 1, year: year };
  }
  function dayOfYear(f) { return dayNumber(f.year, f.month, f.date) - dayNumber(f.year, 0, 1) + 1; }

  function offsetText(minutes, separator) {
    var sign = minutes < 0 ? "-" : "+", abs = Math.abs(minutes);
    return sign + pad(Math.floor(abs / 60), 2) + separator + pad(Math.floor(abs % 60), 2);
  }

  var FORMATTERS = {
    YYYYYY: function (c) { return (c.f.year < 0 ? "-" : "+") + pad(Math.abs(c.f.year), 6); },
    YYYY: function (c) { return c.f.year <= 9999 ? pad(c.f.year, 4) : "+" + c.f.year; },
    YY: function (c) { return pad(mod(c.f.year, 100), 2); },
    Y: function (c) { return c.f.year <= 9999 ? String(c.f.year) : "+" + c.f.year; },
    Q: function (c) { return String(Math.floor(c.f.month / 3) + 1); },
    Qo: function (c) { return ordinal(Math.floor(c.f.month / 3) + 1); },
    M: function (c) { return String(c.f.month + 1); },
    Mo: function (c) { return ordinal(c.f.month + 1); },
    MM: function (c) { return pad(c.f.month + 1, 2); },
    MMM: function (c) { return MONTHS_SHORT[c.f.month]; },
    MMMM: function (c) { return MONTHS[c.f.month]; },
    D: function (c) { return String(c.f.date); },
    Do: function (c) { return ordinal(c.f.date); },
    DD: function (c) { return pad(c.f.date, 2); },
    DDD: function (c) { return String(dayOfYear(c.f)); },
    DDDo: function (c) { return ordinal(dayOfYear(c.f)); },
    DDDD: function (c) { return pad(dayOfYear(c.f), 3); },
    d: function (c) { return String(c.f.day); },
    do: function (c) { return ordinal(c.f.day); },
    dd: function (c) { return WEEKDAYS_MIN[c.f.day]; },
    ddd: function (c) { return WEEKDAYS_SHORT[c.f.day]; },
    dddd: function (c) { return WEEKDAYS[c.f.day]; },
    e: function (c) { return String(c.f.day); },
    E: function (c) { return String(c.f.day || 7); },
    w: function (c) { return String(weekOf(c.f, 0, 6).week); },
    wo: function (c) { return ordinal(weekOf(c.f, 0, 6).week); },
    ww: function (c) { return pad(weekOf(c.f, 0, 6).week, 2); },
    W: function (c) { return String(weekOf(c.f, 1, 4).week); },
    Wo: function (c) { return ordinal(weekOf(c.f, 1, 4).week); },
    WW: function (c) { return pad(weekOf(c.f, 1, 4).week, 2); },
    gg: function (c) { return pad(mod(weekOf(c.f, 0, 6).year, 100), 2); },
    gggg: function (c) { return pad(weekOf(c.f, 0, 6).year, 4); },
    GG: function (c) { return pad(mod(weekOf(c.f, 1, 4).year, 100), 2); },
    GGGG: function (c) { return pad(weekOf(c.f, 1, 4).year, 4); },
    H: function (c) { return String(c.f.hour); },
    HH: function (c) { return pad(c.f.hour, 2); },
    h: function (c) { return String(c.f.hour % 12 || 12); },
    hh: function (c) { return pad(c.f.hour % 12 || 12, 2); },
    k: function (c) { return String(c.f.hour || 24); },
    kk: function (c) { return pad(c.f.hour || 24, 2); },
    m: function (c) { return String(c.f.minute); },
    mm: function (c) { return pad(c.f.minute, 2); },
    s: function (c) { return String(c.f.second); },
    ss: function (c) { return pad(c.f.second, 2); },
    A: function (c) { return c.f.hour < 12 ? "AM" : "PM"; },
    a: function (c) { return c.f.hour < 12 ? "am" : "pm"; },
    Z: function (c) { return offsetText(c.offset / MINUTE, ":"); },
    ZZ: function (c) { return offsetText(c.offset / MINUTE, ""); },
    z: function (c) { return c.m.zoneAbbr(); },
    zz: function (c) { return c.m.zoneAbbr(); },
    X: function (c) { return String(Math.floor(c.m._ms / SECOND)); },
    x: function (c) { return String(c.m._ms); }
  };

  function formatMoment(m, format) {
    var ctx = { m: m, offset: offsetOf(m), f: null };
    ctx.f = fieldsOf(m);
    return expandAndFormat(ctx, format, 0);
  }
  function expandAndFormat(ctx, format, depth) {
    var tokens = tokenize(format), out = "";
    for (var i = 0; i < tokens.length; i++) {
      var token = tokens[i];
      if (token.charAt(0) === "[") {
        out += token.slice(1, -1);
      } else if (LOCALE_FORMATS[token] && depth < 3) {
        out += expandAndFormat(ctx, LOCALE_FORMATS[token], depth + 1);
      } else if (FORMATTERS[token]) {
        out += FORMATTERS[token](ctx);
      } else if (/^S+$/.test(token)) {
        out += (pad(ctx.f.millisecond, 3) + "000000").slice(0, token.length);
      } else {
        out += token;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- parsing

  var MONTH_NAME_RE = new RegExp(MONTHS.concat(MONTHS_SHORT).join("|"), "i");
  var PARSE_PATTERNS = {
    YYYYYY: /[+-]\d{6}/, YYYY: /[+-]?\d{1,4}/, YY: /\d\d?/, Y: /[+-]?\d+/,
    Q: /[1-4]/, M: /\d\d?/, MM: /\d\d?/, MMM: MONTH_NAME_RE, MMMM: MONTH_NAME_RE,
    D: /\d\d?/, DD: /\d\d?/, Do: /\d\d?(?:st|nd|rd|th)?/i, DDD: /\d{1,3}/, DDDD: /\d{1,3}/,
    d: /\d/, dd: /[a-z]+/i, ddd: /[a-z]+/i, dddd: /[a-z]+/i, e: /\d/, E: /\d/,
    w: /\d\d?/, ww: /\d\d?/, W: /\d\d?/, WW: /\d\d?/, gg: /\d\d/, gggg: /\d{4}/, GG: /\d\d/, GGGG: /\d{4}/,
    H: /\d\d?/, HH: /\d\d?/, h: /\d\d?/, hh: /\d\d?/, k: /\d\d?/, kk: /\d\d?/,
    m: /\d\d?/, mm: /\d\d?/, s: /\d\d?/, ss: /\d\d?/, S: /\d+/,
    A: /[ap]\.?m?\.?/i, a: /[ap]\.?m?\.?/i, Z: /Z|[+-]\d\d:?\d\d/i, ZZ: /Z|[+-]\d\d:?\d\d/i,
    X: /[+-]?\d+(?:\.\d{1,3})?/, x: /[+-]?\d+/
  };
  var STRICT_WIDTH = { YYYY: 4, YY: 2, MM: 2, DD: 2, HH: 2, hh: 2, kk: 2, mm: 2, ss: 2, DDDD: 3 };

  function monthIndex(name) {
    var lower = name.toLowerCase();
    for (var i = 0; i < 12; i++) {
      if (MONTHS[i].toLowerCase() === lower || MONTHS_SHORT[i].toLowerCase() === lower) return i;
    }
    return -1;
  }

  // Record a parsed token into `p` (a bag of fields).
  function assign(p, token, text) {
    var n = +text;
    switch (token) {
      case "YYYYYY": case "YYYY": case "Y": p.year = n; break;
      case "YY": p.year = n + (n > 68 ? 1900 : 2000); break;
      case "M": case "MM": p.month = n - 1; break;
      case "MMM": case "MMMM": p.month = monthIndex(text); break;
      case "Q": p.month = (n - 1) * 3; break;
      case "D": case "DD": p.date = n; break;
      case "Do": p.date = parseInt(text, 10); break;
      case "DDD": case "DDDD": p.dayOfYear = n; break;
      case "H": case "HH": p.hour = n; break;
      case "k": case "kk": p.hour = n === 24 ? 0 : n; break;
      case "h": case "hh": p.hour = n; p.twelve = true; break;
      case "m": case "mm": p.minute = n; break;
      case "s": case "ss": p.second = n; break;
      case "A": case "a": p.pm = /^p/i.test(text); break;
      case "Z": case "ZZ": p.offset = parseOffset(text); break;
      case "X": p.instant = Math.round(parseFloat(text) * SECOND); break;
      case "x": p.instant = n; break;
      default:
        if (/^S+$/.test(token)) p.millisecond = Math.round(+("0." + text) * SECOND);
    }
  }

  function parseWithFormat(text, format, strict) {
    var expanded = String(format).replace(/LTS|LT|LLLL|LLL|LL|L|llll|lll|ll|l/g, function (t) {
      return LOCALE_FORMATS[t];
    });
    var tokens = tokenize(expanded), pos = 0, p = {}, matched = 0;
    text = String(text);
    for (var i = 0; i < tokens.length; i++) {
      var token = tokens[i];
      var pattern = PARSE_PATTERNS[token] || (/^S+$/.test(token) ? PARSE_PATTERNS.S : null);
      if (!pattern) {
        var literal = token.charAt(0) === "[" ? token.slice(1, -1) : token;
        if (text.substr(pos, literal.length) === literal) pos += literal.length;
        else if (strict) return null;
        continue;
      }
      var source = pattern.source;
      if (strict && STRICT_WIDTH[token]) source = "\\d{" + STRICT_WIDTH[token] + "}";
      var re = new RegExp((strict ? "" : "[^0-9A-Za-z]*?") + "(" + source + ")", "y" + (pattern.ignoreCase ? "i" : ""));
      re.lastIndex = pos;
      var m = re.exec(text);
      if (!m) {
        if (strict) return null;
        continue;
      }
      assign(p, token, m[1]);
      pos = re.lastIndex;
      matched++;
    }
    if (strict && pos !== text.length) return null;
    return matched ? p : null;
  }

  var ISO_RE = /^\s*([+-]\d{6}|\d{4})(?:-?(\d\d)(?:-?(\d\d))?)?(?:[T ](\d\d)(?::?(\d\d)(?::?(\d\d)(?:[.,](\d+))?)?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?\s*$/i;

  function parseIso(text) {
    var m = ISO_RE.exec(text);
    if (!m) return null;
    if (m[2] && !m[3] && !/-/.test(text.slice(0, 8))) return null;   // "201601" is not ISO
    var p = { year: +m[1] };
    if (m[2]) p.month = +m[2] - 1;
    if (m[3]) p.date = +m[3];
    if (m[4]) p.hour = +m[4];
    if (m[5]) p.minute = +m[5];
    if (m[6]) p.second = +m[6];
    if (m[7]) p.millisecond = Math.round(+("0." + m[7]) * SECOND);
    if (m[8]) p.offset = parseOffset(m[8]);
    if (p.month === undefined) p.month = 0;
    if (p.date === undefined) p.date = 1;
    return p;
  }

  // Turn parsed fields into milliseconds (NaN when invalid). `zone` reads zone-less times.
  function resolveFields(p, zone) {
    if (p.instant !== undefined) return p.instant;
    if (p.twelve && p.pm !== undefined) {
      if (p.pm && p.hour < 12) p.hour += 12;
      if (!p.pm && p.hour === 12) p.hour = 0;
    }
    var now = null;
    var nowField = function (name) {
      if (!now) now = fieldsOf(new Moment(nowMs(), zone, false));
      return now[name];
    };
    var year = p.year, month = p.month, date = p.date;
    if (p.dayOfYear !== undefined && date === undefined && month === undefined) {
      if (year === undefined) year = nowField("year");
      month = 0;
      date = p.dayOfYear;
      if (p.dayOfYear < 1 || p.dayOfYear > (isLeap(year) ? 366 : 365)) return NaN;
    }
    // Fields before the first given one come from today, fields after it start at 0 / 1.
    if (year === undefined) {
      year = nowField("year");
      if (month === undefined) {
        month = nowField("month");
        if (date === undefined) date = nowField("date");
      }
    }
    if (month === undefined) month = 0;
    if (date === undefined) date = 1;
    var hour = p.hour || 0, minute = p.minute || 0, second = p.second || 0, ms = p.millisecond || 0;
    if (month < 0 || month > 11 || date < 1 || date > daysIn(year, month)) return NaN;
    if (hour > 24 || minute > 59 || second > 59) return NaN;
    if (hour === 24 && (minute || second || ms)) return NaN;
    var wall = wallMs(year, month, date, hour, minute, second, ms);
    if (p.offset !== undefined && p.offset !== null) return wall - p.offset * MINUTE;
    return zone.toUtc(wall);
  }

  function parseString(text, format, strict, zone) {
    var p = null;
    if (format === undefined || format === null) {
      p = parseIso(text);
      if (!p) return { ms: parseLoosely(text, zone), offset: undefined };
    } else if (Array.isArray(format)) {
      for (var i = 0; i < format.length && !p; i++) {
        var candidate = parseWithFormat(text, format[i], strict);
        if (candidate && !isNaN(resolveFields(shallowCopy(candidate), zone))) p = candidate;
      }
    } else {
      p = parseWithFormat(text, format, strict);
    }
    if (!p) return { ms: NaN, offset: undefined };
    return { ms: resolveFields(p, zone), offset: p.offset };
  }
  // Last resort for strings that are not ISO 8601, standing in for moment's `new Date(string)`:
  // a few common shapes (strictly), then the engine's Date.parse.
  var LOOSE_FORMATS = [
    "YYYY/M/D", "YYYY/M/D H:m", "YYYY/M/D H:m:s", "YYYY/M/D H:m Z", "YYYY/M/D H:m:s Z",
    "M/D/YYYY", "M/D/YYYY H:m", "M/D/YYYY H:m:s", "M/D/YYYY h:m A", "M/D/YYYY h:m:s A",
    "MMMM D, YYYY", "MMMM D, YYYY h:m A", "MMMM D YYYY", "MMM D YYYY H:m", "MMM D YYYY H:m:s",
    "ddd, D MMM YYYY H:m:s ZZ", "D MMM YYYY H:m:s ZZ", "ddd, D MMM YYYY H:m:s [GMT]"
  ];
  function parseLoosely(text, zone) {
    for (var i = 0; i < LOOSE_FORMATS.length; i++) {
      var p = parseWithFormat(text, LOOSE_FORMATS[i], true);
      if (p) {
        if (/\[GMT\]$/.test(LOOSE_FORMATS[i])) p.offset = 0;
        return resolveFields(p, zone);
      }
    }
    var ms = Date.parse(text);
    if (isNaN(ms) || /(?:GMT|UTC|Z|[+-]\d\d:?\d\d)\s*(?:\([^)]*\))?\s*$/i.test(text)) return ms;
    var local = new Date(ms);   // a zone-less time is read in `zone`, not the process's zone
    return zone.toUtc(wallMs(local.getFullYear(), local.getMonth(), local.getDate(), local.getHours(),
      local.getMinutes(), local.getSeconds(), local.getMilliseconds()));
  }
  function shallowCopy(o) {
    var c = {};
    for (var k in o) c[k] = o[k];
    return c;
  }

  function fieldsFromObject(o) {
    var p = {};
    Object.keys(o).forEach(function (key) {
      var u = normalizeUnit(key);
      if (u === "day" || u === "date") p.date = +o[key];
      else if (u) p[u] = +o[key];
    });
    return p;
  }

  // ---------------------------------------------------------------- construction

  // mode: { zone: Zone | undefined, utc: boolean, parseZone: boolean }
  function create(args, mode) {
    var input = args[0], format = args[1], strict = false;
    if (args.length > 1 && typeof args[args.length - 1] === "boolean") {
      strict = args[args.length - 1];
      if (args.length === 2) format = undefined;
    }
    var zone = mode.zone || (mode.utc ? UTC : defaultZone());
    var ms, parsedOffset;
    if (input === undefined) {
      ms = nowMs();
    } else if (input === null) {
      ms = NaN;
    } else if (isMoment(input)) {
      if (!mode.zone && !mode.utc) return input.clone();
      ms = input._ms;
    } else if (input instanceof Date) {
      ms = input.getTime();
    } else if (typeof input === "number") {
      ms = input;
    } else if (Array.isArray(input)) {
      ms = input.length ? resolveFields({
        year: input[0], month: input[1] === undefined ? 0 : input[1], date: input[2] === undefined ? 1 : input[2],
        hour: input[3], minute: input[4], second: input[5], millisecond: input[6]
      }, zone) : nowMs();
    } else if (typeof input === "object") {
      ms = resolveFields(fieldsFromObject(input), zone);
    } else {
      var parsed = parseString(String(input), format, strict, zone);
      ms = parsed.ms;
      parsedOffset = parsed.offset;
    }
    if (typeof ms !== "number") ms = NaN;
    if (mode.parseZone && parsedOffset !== undefined && parsedOffset !== null) {
      return new Moment(ms, new FixedZone(parsedOffset, ""), parsedOffset === 0);
    }
    return new Moment(ms, zone, mode.utc && !mode.zone);
  }

  function moment() { return create(Array.prototype.slice.call(arguments), {}); }

  moment.utc = function () { return create(Array.prototype.slice.call(arguments), { utc: true }); };
  moment.unix = function (seconds) { return new Moment(+seconds * SECOND, defaultZone(), false); };
  moment.parseZone = function () {
    return create(Array.prototype.slice.call(arguments), { utc: true, parseZone: true });
  };
  moment.tz = function () {
    var args = Array.prototype.slice.call(arguments);
    var zone = getZone(args.pop());
    return create(args, { zone: zone });
  };
  moment.tz.setDefault = function (name) {
    var target = name ? String(name) : host.configuredName;
    host.defaultZone = getZone(target);
    host.defaultName = target;
    return moment;
  };
  moment.tz.guess = function () { return host.defaultName; };
  moment.tz.zone = function (name) {
    var zone = getZone(name);
    return { name: zone.name, abbr: function (ms) { return zone.abbr(ms); },
      utcOffset: function (ms) { return -zone.offsetMs(ms) / MINUTE; } };
  };
  moment.invalid = function () { return new Moment(NaN, defaultZone(), false); };
  moment.isMoment = isMoment;
  moment.isDate = function (x) { return x instanceof Date; };
  moment.isDuration = function (x) { return x instanceof Duration; };
  moment.duration = duration;
  moment.now = nowMs;
  moment.locale = function () { return "en"; };
  moment.lang = moment.locale;
  moment.months = function () { return MONTHS.slice(); };
  moment.monthsShort = function () { return MONTHS_SHORT.slice(); };
  moment.weekdays = function () { return WEEKDAYS.slice(); };
  moment.weekdaysShort = function () { return WEEKDAYS_SHORT.slice(); };
  moment.weekdaysMin = function () { return WEEKDAYS_MIN.slice(); };
  moment.normalizeUnits = normalizeUnit;
  moment.defaultFormat = DEFAULT_FORMAT;
  moment.defaultFormatUtc = DEFAULT_FORMAT_UTC;
  moment.ISO_8601 = "YYYY-MM-DDTHH:mm:ss.SSSZ";
  moment.version = "dockerflow";
  function pick(args, better) {
    var list = Array.isArray(args[0]) ? args[0] : Array.prototype.slice.call(args);
    var best = null;
    list.forEach(function (x) {
      var m = isMoment(x) ? x : moment(x);
      if (!m.isValid()) return;
      if (best === null || better(m, best)) best = m;
    });
    return best || moment.invalid();
  }
  moment.min = function () { return pick(arguments, function (a, b) { return a._ms < b._ms; }); };
  moment.max = function () { return pick(arguments, function (a, b) { return a._ms > b._ms; }); };
  moment.fn = proto;

  // ---------------------------------------------------------------- instance methods

  function toMoment(x) { return isMoment(x) ? x : moment(x); }

  proto.clone = function () { return new Moment(this._ms, this._zone, this._utc); };
  proto.isValid = function () { return !isNaN(this._ms); };
  proto.valueOf = function () { return this._ms; };
  proto.unix = function () { return Math.floor(this._ms / SECOND); };
  proto.toDate = function () { return new Date(this._ms); };
  proto.toISOString = function (keepOffset) {
    if (!this.isValid()) return null;
    var target = keepOffset ? this : new Moment(this._ms, UTC, true);
    var year = fieldsOf(target).year;
    var format = (year < 0 || year > 9999 ? "YYYYYY" : "YYYY") + "-MM-DD[T]HH:mm:ss.SSS" + (keepOffset ? "Z" : "[Z]");
    return formatMoment(target, format);
  };
  proto.toJSON = function () { return this.toISOString(); };
  proto.toString = function () {
    return this.isValid() ? formatMoment(this, "ddd MMM DD YYYY HH:mm:ss [GMT]ZZ") : "Invalid date";
  };
  proto.inspect = function () { return "moment(\"" + this.format() + "\")"; };
  proto.format = function (format) {
    if (!this.isValid()) return "Invalid date";
    if (format === undefined || format === null || format === "") {
      format = this._utc ? moment.defaultFormatUtc : moment.defaultFormat;
    }
    return formatMoment(this, format);
  };
  proto.locale = function (name) { return name === undefined ? "en" : this; };
  proto.lang = proto.locale;

  function rezone(m, zone, utc, keepLocalTime) {
    var wall = m._ms + offsetOf(m);
    m._zone = zone;
    m._utc = utc;
    if (keepLocalTime && m.isValid()) m._ms = zone.toUtc(wall);
    return m;
  }
  proto.utc = function (keepLocalTime) { return rezone(this, UTC, true, keepLocalTime); };
  proto.local = function (keepLocalTime) { return rezone(this, defaultZone(), false, keepLocalTime); };
  proto.tz = function (name, keepLocalTime) {
    if (name === undefined) return this._zone.name;
    return rezone(this, getZone(name), false, keepLocalTime);
  };
  proto.utcOffset = function (value, keepLocalTime) {
    if (value === undefined || value === null) return offsetOf(this) / MINUTE;
    var minutes = typeof value === "string" ? parseOffset(value) : +value;
    if (minutes === null || isNaN(minutes)) return this;
    if (Math.abs(minutes) < 16) minutes *= 60;
    return rezone(this, new FixedZone(minutes, ""), minutes === 0, keepLocalTime);
  };
  proto.isUTC = proto.isUtc = function () { return this._utc; };
  proto.isUtcOffset = function () { return !(this._zone instanceof TableZone); };
  proto.isLocal = function () { return !this._utc && this._zone === defaultZone(); };
  proto.zoneAbbr = function () { return this._utc ? "UTC" : this._zone.abbr(this._ms); };
  proto.zoneName = function () { return this._utc ? "Coordinated Universal Time" : this.zoneAbbr(); };
  proto.isDST = function () {
    if (!(this._zone instanceof TableZone) || !this.isValid()) return false;
    var year = fieldsOf(this).year;
    var jan = this._zone.offsetMs(wallMs(year, 0, 1, 0, 0, 0, 0));
    var jul = this._zone.offsetMs(wallMs(year, 6, 1, 0, 0, 0, 0));
    return jan !== jul && offsetOf(this) === Math.max(jan, jul);
  };

  // getters / setters: year(), year(2016), ...
  function accessor(field, setter) {
    return function (value) {
      if (value === undefined) return this.isValid() ? fieldsOf(this)[field] : NaN;
      if (!this.isValid()) return this;
      var f = fieldsOf(this);
      (setter || function (f, v) { f[field] = v; })(f, value, this);
      return setFields(this, f);
    };
  }
  proto.year = proto.years = accessor("year", function (f, v) {
    f.year = +v;
    f.date = Math.min(f.date, daysIn(f.year, f.month));
  });
  proto.month = proto.months = accessor("month", function (f, v) {
    var month = typeof v === "string" && isNaN(+v) ? monthIndex(v) : +v;
    if (month < 0) return;
    f.year += Math.floor(month / 12);
    f.month = mod(month, 12);
    f.date = Math.min(f.date, daysIn(f.year, f.month));
  });
  proto.date = proto.dates = accessor("date", function (f, v) { f.date = +v; });
  proto.hour = proto.hours = accessor("hour", function (f, v) { f.hour = +v; });
  proto.minute = proto.minutes = accessor("minute", function (f, v) { f.minute = +v; });
  proto.second = proto.seconds = accessor("second", function (f, v) { f.second = +v; });
  proto.millisecond = proto.milliseconds = accessor("millisecond", function (f, v) { f.millisecond = +v; });
  proto.day = proto.days = accessor("day", function (f, v) {
    var target = typeof v === "string" && isNaN(+v) ? WEEKDAYS_SHORT.indexOf(v.slice(0, 3)) : +v;
    f.date += target - f.day;
  });
  proto.weekday = accessor("day", function (f, v) { f.date += +v - f.day; });
  proto.isoWeekday = function (value) {
    var current = this.isValid() ? fieldsOf(this).day || 7 : NaN;
    return value === undefined ? current : this.add(+value - current, "d");
  };
  proto.quarter = proto.quarters = function (value) {
    if (value === undefined) return this.isValid() ? Math.floor(fieldsOf(this).month / 3) + 1 : NaN;
    return this.month((+value - 1) * 3 + this.month() % 3);
  };
  proto.dayOfYear = function (value) {
    if (value === undefined) return this.isValid() ? dayOfYear(fieldsOf(this)) : NaN;
    return this.add(+value - this.dayOfYear(), "d");
  };
  proto.week = proto.weeks = function (value) {
    var week = weekOf(fieldsOf(this), 0, 6).week;
    return value === undefined ? week : this.add((+value - week) * 7, "d");
  };
  proto.isoWeek = proto.isoWeeks = function (value) {
    var week = weekOf(fieldsOf(this), 1, 4).week;
    return value === undefined ? week : this.add((+value - week) * 7, "d");
  };
  proto.weekYear = function () { return weekOf(fieldsOf(this), 0, 6).year; };
  proto.isoWeekYear = function () { return weekOf(fieldsOf(this), 1, 4).year; };
  proto.daysInMonth = function () { var f = fieldsOf(this); return daysIn(f.year, f.month); };
  proto.isLeapYear = function () { return isLeap(fieldsOf(this).year); };
  proto.toArray = function () {
    var f = fieldsOf(this);
    return [f.year, f.month, f.date, f.hour, f.minute, f.second, f.millisecond];
  };
  proto.toObject = function () {
    var f = fieldsOf(this);
    return { years: f.year, months: f.month, date: f.date, hours: f.hour, minutes: f.minute,
      seconds: f.second, milliseconds: f.millisecond };
  };
  proto.get = function (unit) {
    var u = normalizeUnit(unit);
    return typeof this[u] === "function" ? this[u]() : undefined;
  };
  proto.set = function (unit, value) {
    if (unit !== null && typeof unit === "object") {
      var self = this;
      ["year", "month", "date", "day", "hour", "minute", "second", "millisecond"].forEach(function (name) {
        Object.keys(unit).forEach(function (key) {
          if (normalizeUnit(key) === name) self[name](unit[key]);
        });
      });
      return this;
    }
    var u = normalizeUnit(unit);
    if (typeof this[u] === "function") this[u](value);
    return this;
  };

  proto.add = function (amount, unit) { return shift(this, toDuration(amount, unit), 1); };
  proto.subtract = function (amount, unit) { return shift(this, toDuration(amount, unit), -1); };

  proto.startOf = function (unit) {
    var u = normalizeUnit(unit);
    if (!this.isValid() || u === undefined || u === "millisecond") return this;
    if (u === "hour" || u === "minute" || u === "second") {
      var size = UNIT_MS[u];
      this._ms -= mod(this._ms + offsetOf(this), size);
      return this;
    }
    var f = fieldsOf(this);
    if (u === "year") { f.month = 0; f.date = 1; }
    if (u === "quarter") { f.month -= f.month % 3; f.date = 1; }
    if (u === "month") f.date = 1;
    if (u === "week") f.date -= f.day;
    if (u === "isoWeek") f.date -= mod(f.day - 1, 7);
    f.hour = f.minute = f.second = f.millisecond = 0;
    return setFields(this, f);
  };
  proto.endOf = function (unit) {
    var u = normalizeUnit(unit);
    if (!this.isValid() || u === undefined || u === "millisecond") return this;
    var step = u === "isoWeek" ? "week" : u === "date" ? "day" : u;
    return this.startOf(u).add(1, step).subtract(1, "ms");
  };

  function monthsBetween(from, to) {   // fractional months from `from` to `to`
    if (to._ms < from._ms) return -monthsBetween(to, from);
    var a = fieldsOf(from), b = fieldsOf(to);
    var whole = (b.year - a.year) * 12 + (b.month - a.month);
    var anchor = from.clone().add(whole, "M");
    if (anchor._ms > to._ms) anchor = from.clone().add(--whole, "M");
    var next = from.clone().add(whole + 1, "M");
    return whole + (to._ms - anchor._ms) / (next._ms - anchor._ms);
  }
  proto.diff = function (input, unit, precise) {
    var that = toMoment(input);
    if (!this.isValid() || !that.isValid()) return NaN;
    var u = normalizeUnit(unit) || "millisecond", result;
    if (u === "year" || u === "quarter" || u === "month") {
      result = monthsBetween(that, this) / (u === "year" ? 12 : u === "quarter" ? 3 : 1);
    } else {
      var delta = this._ms - that._ms;
      var zoneDelta = offsetOf(this) - offsetOf(that);   // days and weeks follow wall clocks
      if (u === "day" || u === "date") result = (delta + zoneDelta) / DAY;
      else if (u === "week" || u === "isoWeek") result = (delta + zoneDelta) / (7 * DAY);
      else result = delta / (UNIT_MS[u] || 1);
    }
    return precise ? result : truncate(result);
  };

  proto.isBefore = function (input, unit) {
    var that = toMoment(input);
    if (!this.isValid() || !that.isValid()) return false;
    if (!normalizeUnit(unit)) return this._ms < that._ms;
    return this.clone().endOf(unit)._ms < that._ms;
  };
  proto.isAfter = function (input, unit) {
    var that = toMoment(input);
    if (!this.isValid() || !that.isValid()) return false;
    if (!normalizeUnit(unit)) return this._ms > that._ms;
    return that._ms < this.clone().startOf(unit)._ms;
  };
  proto.isSame = function (input, unit) {
    var that = toMoment(input);
    if (!this.isValid() || !that.isValid()) return false;
    if (!normalizeUnit(unit)) return this._ms === that._ms;
    return this.clone().startOf(unit)._ms <= that._ms && that._ms <= this.clone().endOf(unit)._ms;
  };
  proto.isSameOrBefore = function (input, unit) { return this.isSame(input, unit) || this.isBefore(input, unit); };
  proto.isSameOrAfter = function (input, unit) { return this.isSame(input, unit) || this.isAfter(input, unit); };
  proto.isBetween = function (from, to, unit, inclusivity) {
    var incl = inclusivity || "()";
    var afterFrom = incl.charAt(0) === "[" ? this.isSameOrAfter(from, unit) : this.isAfter(from, unit);
    var beforeTo = incl.charAt(1) === "]" ? this.isSameOrBefore(to, unit) : this.isBefore(to, unit);
    return afterFrom && beforeTo;
  };

  // ---------------------------------------------------------------- host interface

  host.configuredName = "UTC";
  host.addZone = function (name, json) {
    host.data[name] = json === null ? null : JSON.parse(json);
  };
  host.configure = function (defaultName, now) {
    host.configuredName = host.defaultName = defaultName;
    host.defaultZone = null;
    host.now = now;
  };
  host.reset = function () {   // before each template: forget what an earlier one changed
    host.missing.length = 0;
    if (host.defaultName !== host.configuredName) {
      host.defaultName = host.configuredName;
      host.defaultZone = null;
    }
  };
  __dockerflowMomentHost = host;
  return moment;
})();
