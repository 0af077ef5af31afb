/*
 * Runs `${...}` templates for dockerflow/expr/runtime.py, and adds the Java String methods
 * that Digdag workflows call on strings (Digdag's engine exposed java.lang.String's methods).
 * Loaded after moment.js.
 */
(function (global) {
  "use strict";

  // ------------------------------------------------------------- Java String methods

  // A Java regex as a JavaScript RegExp (leading inline flags like (?i) become JS flags).
  function javaRegExp(pattern, flags) {
    var source = String(pattern);
    var inline = /^\(\?([imsu]+)\)/.exec(source);
    if (inline) {
      source = source.slice(inline[0].length);
      flags += inline[1].replace(/u/g, "");
    }
    return new RegExp(source, flags);
  }

  // A Java replacement string ($1, ${name}, \x escapes) as a replacer function.
  function javaReplacer(replacement) {
    var text = String(replacement), pieces = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === "\\") {
        if (++i >= text.length) throw new Error("character to be escaped is missing");
        pieces.push(text.charAt(i));
      } else if (c === "$") {
        var named = /^\{([A-Za-z][A-Za-z0-9]*)\}/.exec(text.slice(i + 1));
        if (named) {
          pieces.push({ name: named[1] });
          i += named[0].length;
        } else if (/\d/.test(text.charAt(i + 1))) {
          var digits = /^\d+/.exec(text.slice(i + 1))[0];
          pieces.push({ group: digits });
          i += digits.length;
        } else {
          throw new Error("Illegal group reference");
        }
      } else {
        pieces.push(c);
      }
    }
    return function (match) {
      var args = Array.prototype.slice.call(arguments);
      var last = args[args.length - 1];
      var groups = typeof last === "object" && last !== null ? last : undefined;
      var count = args.length - (groups ? 4 : 3);   // captures between match and offset
      var out = "";
      pieces.forEach(function (p) {
        if (typeof p === "string") {
          out += p;
        } else if (p.name !== undefined) {
          if (!groups || !(p.name in groups)) throw new Error("No group with name {" + p.name + "}");
          out += groups[p.name] === undefined ? "" : groups[p.name];
        } else {
          // Java reads as many digits as still name an existing group
          var digits = p.group, n = +digits.charAt(0), k = 1;
          while (k < digits.length && +digits.slice(0, k + 1) <= count) n = +digits.slice(0, ++k);
          if (n > count) throw new Error("No group " + n);
          var value = n === 0 ? match : args[n];
          out += (value === undefined ? "" : value) + digits.slice(k);
        }
      });
      return out;
    };
  }

  var nativeReplaceAll = String.prototype.replaceAll;
  function define(name, fn) {
    Object.defineProperty(String.prototype, name, { value: fn, writable: true, configurable: true });
  }
  define("replaceAll", function (pattern, replacement) {
    if (pattern instanceof RegExp || typeof replacement === "function") {
      return nativeReplaceAll.call(this, pattern, replacement);
    }
    return String(this).replace(javaRegExp(pattern, "g"), javaReplacer(replacement));
  });
  define("replaceFirst", function (pattern, replacement) {
    return String(this).replace(javaRegExp(pattern, ""), javaReplacer(replacement));
  });
  define("matches", function (pattern) {
    var re = javaRegExp(pattern, "");
    return new RegExp("^(?:" + re.source + ")$", re.flags).test(String(this));
  });
  define("contains", function (s) { return String(this).indexOf(String(s)) >= 0; });
  define("equals", function (s) { return String(this) === s; });
  define("equalsIgnoreCase", function (s) {
    return s !== null && s !== undefined && String(this).toLowerCase() === String(s).toLowerCase();
  });
  define("isEmpty", function () { return String(this).length === 0; });
  define("compareTo", function (s) {
    var a = String(this), b = String(s), n = Math.min(a.length, b.length);
    for (var i = 0; i < n; i++) {
      if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
    }
    return a.length - b.length;
  });

  // ------------------------------------------------------------- the template runner

  var momentHost = global.__dockerflowMomentHost;
  var templates = new Map();   // id -> [literal, code, literal, ..., literal]
  var compiled = new Map();    // code -> function(scope)
  var current = -1;            // index of the part being evaluated (read after an interrupt)

  function compile(code) {
    var fn = compiled.get(code);
    if (fn === undefined) {
      // `with` puts the params first in scope; the newline ends a trailing // comment.
      fn = new Function("__dockerflow_scope__", "with (__dockerflow_scope__) { return (" + code + "\n); }");
      if (compiled.size >= 8192) compiled.clear();
      compiled.set(code, fn);
    }
    return fn;
  }

  function toText(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    if (typeof value === "object") {
      var json = JSON.stringify(value);
      return json === undefined ? "" : json;
    }
    return String(value);
  }

  function makeScope(paramsJson, overlayJson) {
    var scope = JSON.parse(paramsJson);
    if (overlayJson === null) return scope;
    var overlay = JSON.parse(overlayJson), layered = Object.create(scope);
    Object.keys(overlay).forEach(function (key) {
      Object.defineProperty(layered, key, {
        value: overlay[key], writable: true, enumerable: true, configurable: true
      });
    });
    return layered;
  }

  function describe(error) {
    if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
      return { name: String(error.name || "Error"), message: String(error.message) };
    }
    return { name: "Error", message: String(error) };
  }

  // A string on success; on failure an object: {zones: [...]} (load these and run again) or
  // {index, name, message} (the part `index` failed).
  function run(id, paramsJson, overlayJson) {
    var parts = templates.get(id);
    momentHost.reset();
    var out = parts[0], failure = null;
    try {
      var scope = makeScope(paramsJson, overlayJson);
      for (var i = 1; i < parts.length && failure === null; i += 2) {
        current = i;
        try {
          out += toText(compile(parts[i]).call(undefined, scope)) + parts[i + 1];
        } catch (e) {
          failure = describe(e);
          failure.index = i;
        }
      }
    } catch (e) {
      failure = describe(e);
      failure.index = 0;
    }
    current = -1;
    if (momentHost.missing.length) return { zones: momentHost.missing.slice() };
    return failure === null ? out : failure;
  }

  global.__dockerflow = {
    run: run,
    define: function (id, partsJson) { templates.set(id, JSON.parse(partsJson)); },
    clear: function () { templates.clear(); },
    current: function () { return current; },
    addZone: momentHost.addZone,
    configure: momentHost.configure
  };
})(globalThis);
