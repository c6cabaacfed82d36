/* The native server's optional accelerator: the few wire operations where Python's
 * per-operation cost is most of the work. Each function has a pure-Python twin in
 * native_server/wire (websocket.py, serializer.py, simple_head.py) that gives the same
 * results and raises the same errors for the inputs it is specified for (tests/unit/
 * native_server/wire/test_speedups.py and test_simple_head.py check that);
 * native_server/wire/accel.py picks one or the other, and ASGIWEB_NO_EXTENSIONS=1 makes it
 * pick Python. No state, no I/O.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

/* asgiweb.ws_types.WSMessage and WSMsgType.TEXT / BINARY, looked up once at import. */
static PyTypeObject *message_type = NULL;
static PyObject *text_kind = NULL;
static PyObject *binary_kind = NULL;
static PyObject *empty_str = NULL;

/* out[i] = in[i] ^ mask[i % 4] (RFC 6455 5.3), eight bytes at a time. */
static void
xor_mask(const unsigned char *in, unsigned char *out, Py_ssize_t size,
         const unsigned char *mask)
{
    uint64_t key;
    unsigned char key_bytes[8];
    Py_ssize_t i = 0;

    memcpy(key_bytes, mask, 4);
    memcpy(key_bytes + 4, mask, 4);
    memcpy(&key, key_bytes, 8);
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        memcpy(&word, in + i, 8);
        word ^= key;
        memcpy(out + i, &word, 8);
    }
    /* i is a multiple of 8, so the mask lines up with i % 4 == 0 again. */
    for (; i < size; i++) {
        out[i] = in[i] ^ mask[i & 3];
    }
}

PyDoc_STRVAR(unmask_doc,
"unmask(data, mask, /) -> bytes\n\n"
"``data`` XOR the repeated 4-byte ``mask`` (RFC 6455 5.3).");

static PyObject *
unmask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unmask() takes exactly 2 arguments");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "A WebSocket mask is 4 bytes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL) {
        xor_mask((const unsigned char *)data.buf,
                 (unsigned char *)PyBytes_AS_STRING(result), data.len,
                 (const unsigned char *)mask.buf);
    }
done:
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

/* WSMessage(kind, data, ""), built by tuple.__new__(WSMessage, items) as the Python
 * twin builds it: NamedTuple's own __new__ is Python code, and tuple's subtype path is
 * the one that initialises everything a tuple holds (its hash cache, on newer Pythons). */
static PyObject *
new_message(PyObject *kind, PyObject *data)
{
    PyObject *items, *args, *message;

    items = PyTuple_Pack(3, kind, data, empty_str);
    Py_DECREF(data);
    if (items == NULL) {
        return NULL;
    }
    args = PyTuple_Pack(1, items);
    Py_DECREF(items);
    if (args == NULL) {
        return NULL;
    }
    message = PyTuple_Type.tp_new(message_type, args, NULL);
    Py_DECREF(args);
    return message;
}

PyDoc_STRVAR(small_frame_doc,
"small_frame(data, decode_text, max_msg_size, /) -> WSMessage | None\n\n"
"The message when ``data`` is exactly one masked, final, uncompressed TEXT or BINARY\n"
"frame with a payload under 126 bytes (and within ``max_msg_size``, 0: no limit);\n"
"None otherwise. TEXT that is not UTF-8 raises UnicodeDecodeError.");

static PyObject *
small_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *frame;
    unsigned char payload[125];
    Py_ssize_t size;
    long limit;
    int decode_text, overflow, first;
    PyObject *data;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "small_frame() takes exactly 3 arguments");
        return NULL;
    }
    decode_text = PyObject_IsTrue(args[1]);
    if (decode_text < 0) {
        return NULL;
    }
    limit = PyLong_AsLongAndOverflow(args[2], &overflow);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow) { /* beyond a C long: as Python compares, no frame is that long */
        limit = overflow > 0 ? LONG_MAX : LONG_MIN;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    frame = (const unsigned char *)view.buf;
    size = view.len - 6; /* two header bytes and the mask */
    if (size < 0 || size > 125 || frame[1] != (0x80 | size)
        || (frame[0] != 0x81 && frame[0] != 0x82) || (limit != 0 && size > limit)) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    first = frame[0];
    xor_mask(frame + 6, payload, size, frame + 2);
    PyBuffer_Release(&view);
    if (first == 0x82) {
        data = PyBytes_FromStringAndSize((const char *)payload, size);
        return data == NULL ? NULL : new_message(binary_kind, data);
    }
    /* Checked as UTF-8 whatever decode_text says, with Python's own codec: the same
     * UnicodeDecodeError as bytes.decode("utf-8"). */
    data = PyUnicode_DecodeUTF8((const char *)payload, size, "strict");
    if (data == NULL) {
        return NULL;
    }
    if (!decode_text) {
        Py_DECREF(data);
        data = PyBytes_FromStringAndSize((const char *)payload, size);
        if (data == NULL) {
            return NULL;
        }
    }
    return new_message(text_kind, data);
}

PyDoc_STRVAR(plain_frame_doc,
"plain_frame(payload, opcode, /) -> bytes\n\n"
"One final, unmasked, uncompressed frame (RFC 6455 5.2) of ``payload``: bytes-like,\n"
"or str sent as its UTF-8. ``opcode`` must be 0..15; nothing else is checked.");

static PyObject *
plain_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const char *payload;
    Py_ssize_t size, head;
    long opcode;
    int is_buffer = 0;
    unsigned char *out;
    PyObject *frame;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "plain_frame() takes exactly 2 arguments");
        return NULL;
    }
    opcode = PyLong_AsLong(args[1]);
    if (opcode == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (opcode < 0 || opcode > 15) {
        PyErr_SetString(PyExc_ValueError, "opcode must be 0..15");
        return NULL;
    }
    if (PyUnicode_Check(args[0])) {
        payload = PyUnicode_AsUTF8AndSize(args[0], &size);
        if (payload == NULL) {
            return NULL;
        }
    }
    else {
        if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        is_buffer = 1;
        payload = (const char *)view.buf;
        size = view.len;
    }
    head = size < 126 ? 2 : (size < 65536 ? 4 : 10);
    frame = PyBytes_FromStringAndSize(NULL, head + size);
    if (frame != NULL) {
        out = (unsigned char *)PyBytes_AS_STRING(frame);
        out[0] = (unsigned char)(0x80 | opcode);
        if (head == 2) {
            out[1] = (unsigned char)size;
        }
        else if (head == 4) {
            out[1] = 126;
            out[2] = (unsigned char)(size >> 8);
            out[3] = (unsigned char)size;
        }
        else {
            uint64_t length = (uint64_t)size;
            out[1] = 127;
            for (int i = 0; i < 8; i++) {
                out[2 + i] = (unsigned char)(length >> (56 - 8 * i));
            }
        }
        memcpy(out + head, payload, size);
    }
    if (is_buffer) {
        PyBuffer_Release(&view);
    }
    return frame;
}

PyDoc_STRVAR(serialize_head_doc,
"serialize_head(version, status, reason, headers, /) -> bytes\n\n"
"The status line and header block, UTF-8 encoded (surrogateescape: bytes a request\n"
"brought in go out as they came); ``headers`` yields (name, value) pairs of str.\n"
"Nothing is validated here (the core did it).");

/* Appends a str's UTF-8 bytes at *pos, growing *buffer (a bytes object) as needed.
   Surrogates U+DC80..U+DCFF become the bytes 0x80..0xFF ("surrogateescape"): a header
   value copied from a request, whose bytes that are not UTF-8 were decoded that way,
   goes out as the client sent it. */
static int
append_utf8(PyObject **buffer, Py_ssize_t *pos, PyObject *text)
{
    Py_ssize_t length;
    const char *utf8;
    PyObject *escaped = NULL;

    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "sequence item: expected str instance, %.80s found",
                     Py_TYPE(text)->tp_name);
        return -1;
    }
    utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (utf8 == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return -1;
        }
        PyErr_Clear();
        escaped = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape");
        if (escaped == NULL) {
            return -1;
        }
        utf8 = PyBytes_AS_STRING(escaped);
        length = PyBytes_GET_SIZE(escaped);
    }
    if (*pos + length + 4 > PyBytes_GET_SIZE(*buffer)) {
        Py_ssize_t wanted = (*pos + length + 4) * 2;
        if (_PyBytes_Resize(buffer, wanted) < 0) {
            Py_XDECREF(escaped);
            return -1;
        }
    }
    memcpy(PyBytes_AS_STRING(*buffer) + *pos, utf8, length);
    *pos += length;
    Py_XDECREF(escaped);
    return 0;
}

static int
append_raw(PyObject **buffer, Py_ssize_t *pos, const char *bytes, Py_ssize_t length)
{
    if (*pos + length > PyBytes_GET_SIZE(*buffer)) {
        if (_PyBytes_Resize(buffer, (*pos + length) * 2) < 0) {
            return -1;
        }
    }
    memcpy(PyBytes_AS_STRING(*buffer) + *pos, bytes, length);
    *pos += length;
    return 0;
}

/* Writes ``value`` in decimal (as Python's str() of an int does) at ``out``; returns
   the number of characters written, at most 20. */
static int
format_long(char *out, long value)
{
    char digits[24];
    int count = 0, length = 0;
    unsigned long magnitude;

    if (value < 0) {
        out[length++] = '-';
        magnitude = 0UL - (unsigned long)value;
    }
    else {
        magnitude = (unsigned long)value;
    }
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    while (count > 0) {
        out[length++] = digits[--count];
    }
    return length;
}

static PyObject *
serialize_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *buffer, *iterator, *item;
    Py_ssize_t pos = 0;
    long major, minor, status;
    char line[72];
    int written;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "serialize_head() takes exactly 4 arguments");
        return NULL;
    }
    if (!PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != 2) {
        PyErr_SetString(PyExc_TypeError, "version must be a (major, minor) tuple");
        return NULL;
    }
    major = PyLong_AsLong(PyTuple_GET_ITEM(args[0], 0));
    if (major == -1 && PyErr_Occurred()) {
        return NULL;
    }
    minor = PyLong_AsLong(PyTuple_GET_ITEM(args[0], 1));
    if (minor == -1 && PyErr_Occurred()) {
        return NULL;
    }
    status = PyLong_AsLong(args[1]);
    if (status == -1 && PyErr_Occurred()) {
        return NULL;
    }
    buffer = PyBytes_FromStringAndSize(NULL, 256);
    if (buffer == NULL) {
        return NULL;
    }
    /* By hand, not snprintf(): libc's formatter costs more than the rest of a short
       head. 8 characters and 3 numbers of at most 20 fit the 72 bytes. */
    memcpy(line, "HTTP/", 5);
    written = 5;
    written += format_long(line + written, major);
    line[written++] = '.';
    written += format_long(line + written, minor);
    line[written++] = ' ';
    written += format_long(line + written, status);
    line[written++] = ' ';
    if (append_raw(&buffer, &pos, line, written) < 0
        || append_utf8(&buffer, &pos, args[2]) < 0
        || append_raw(&buffer, &pos, "\r\n", 2) < 0) {
        Py_XDECREF(buffer);
        return NULL;
    }
    iterator = PyObject_GetIter(args[3]);
    if (iterator == NULL) {
        Py_DECREF(buffer);
        return NULL;
    }
    while ((item = PyIter_Next(iterator)) != NULL) {
        PyObject *name = NULL, *value = NULL;
        int failed;
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2) {
            name = PyTuple_GET_ITEM(item, 0);
            value = PyTuple_GET_ITEM(item, 1);
        }
        else if (PyList_Check(item) && PyList_GET_SIZE(item) == 2) {
            name = PyList_GET_ITEM(item, 0);
            value = PyList_GET_ITEM(item, 1);
        }
        if (name == NULL) {
            PyErr_SetString(PyExc_TypeError, "headers must yield (name, value) pairs");
            failed = 1;
        }
        else {
            failed = append_utf8(&buffer, &pos, name) < 0
                     || append_raw(&buffer, &pos, ": ", 2) < 0
                     || append_utf8(&buffer, &pos, value) < 0
                     || append_raw(&buffer, &pos, "\r\n", 2) < 0;
        }
        Py_DECREF(item);
        if (failed) {
            Py_DECREF(iterator);
            Py_XDECREF(buffer);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred() || append_raw(&buffer, &pos, "\r\n", 2) < 0) {
        Py_XDECREF(buffer);
        return NULL;
    }
    if (_PyBytes_Resize(&buffer, pos) < 0) {
        return NULL;
    }
    return buffer;
}

/* -- simple_head: the request heads most clients send, without llhttp's callbacks ---- */

/* RFC 9110 5.6.2 tchar: what a field name is made of (llhttp refuses the other
 * visible characters in a name too). */
static unsigned char is_tchar[256];
/* The methods taken here: those llhttp knows that need nothing special (CONNECT does). */
static PyObject *method_names[7];
static const char *const method_spellings[7] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
};

/* The longest field list the fast path looks at; a longer one goes to llhttp. */
#define SIMPLE_MAX_FIELDS 64

typedef struct {
    Py_ssize_t name, name_len, value, value_len;
} field_span;

/* Case-insensitive comparison of data[0:len] with the lower-case ASCII word. */
static int
name_is(const unsigned char *data, Py_ssize_t len, const char *word)
{
    Py_ssize_t i;
    if ((Py_ssize_t)strlen(word) != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = data[i];
        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        }
        if (c != (unsigned char)word[i]) {
            return 0;
        }
    }
    return 1;
}

/* host [":" port] with host made of unreserved characters only (RFC 3986 2.3): a subset of
 * what the parser's _VALID_HOST accepts, so a Host taken here is one it would take. */
static int
simple_host(const unsigned char *value, Py_ssize_t len)
{
    Py_ssize_t i = 0;
    for (; i < len && value[i] != ':'; i++) {
        unsigned char c = value[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '.' || c == '_' || c == '~')) {
            return 0;
        }
    }
    if (i < len) {
        for (i++; i < len; i++) {
            if (value[i] < '0' || value[i] > '9') {
                return 0;
            }
        }
    }
    return 1;
}

/* Where the parts of a plain head lie in the buffer, once scan_simple has found one. */
typedef struct {
    Py_ssize_t end;            /* offset just past the head's empty line */
    PyObject *method;          /* borrowed: one of method_names */
    Py_ssize_t target, target_len, query; /* query: offset of '?', or -1 */
    Py_ssize_t count;
    field_span fields[SIMPLE_MAX_FIELDS];
} simple_scan;

/* The limits simple_head and simple_heads take as arguments 2 to 5. */
typedef struct {
    Py_ssize_t max_line, max_field, max_fields, max_head;
} scan_limits;

/* args[1:6] of both functions: the position, then the limits. 0, or -1 with an exception
 * set. */
static int
read_scan_args(PyObject *const *args, Py_ssize_t *pos, scan_limits *limits)
{
    *pos = PyLong_AsSsize_t(args[1]);
    limits->max_line = PyLong_AsSsize_t(args[2]);
    limits->max_field = PyLong_AsSsize_t(args[3]);
    limits->max_fields = PyLong_AsSsize_t(args[4]);
    limits->max_head = PyLong_AsSsize_t(args[5]);
    return PyErr_Occurred() ? -1 : 0;
}

/* 1 and *out filled when data[pos:len] begins with a complete plain head (see
 * native_server/wire/simple_head.py), 0 otherwise. Allocates nothing, raises nothing. */
static int
scan_simple(const unsigned char *data, Py_ssize_t len, Py_ssize_t pos,
            const scan_limits *limits, simple_scan *out)
{
    const Py_ssize_t max_line = limits->max_line, max_field = limits->max_field;
    const Py_ssize_t max_fields = limits->max_fields, max_head = limits->max_head;
    const unsigned char *p, *end, *target, *query = NULL;
    Py_ssize_t method_len, target_len, hosts = 0, connections = 0, count = 0, i;
    PyObject *method = NULL;

    if (pos < 0 || pos >= len) {
        return 0;
    }
    p = data + pos;
    end = data + len;
    /* No more than max_head bytes are ever looked at: a longer head goes to llhttp. */
    if (end - p > max_head) {
        end = p + max_head;
    }

    /* Request line: method SP origin-form SP "HTTP/1.1" CRLF. */
    while (p < end && *p >= 'A' && *p <= 'Z') {
        p++;
    }
    method_len = p - (data + pos);
    if (p >= end || *p != ' ') {
        return 0;
    }
    for (i = 0; i < 7; i++) {
        if ((Py_ssize_t)strlen(method_spellings[i]) == method_len
            && memcmp(data + pos, method_spellings[i], method_len) == 0) {
            method = method_names[i];
            break;
        }
    }
    if (method == NULL) {
        return 0;
    }
    target = ++p;
    if (p >= end || *p != '/') {
        return 0;
    }
    /* Visible ASCII (llhttp takes all of it in a target); '#' and anything else go the
     * full way, which knows what to do with them. */
    for (; p < end && *p != ' '; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '#') {
            return 0;
        }
        if (*p == '?' && query == NULL) {
            query = p;
        }
    }
    target_len = p - target;
    if (p >= end || target_len > max_line) {
        return 0;
    }
    p++;
    if (end - p < 10 || memcmp(p, "HTTP/1.1\r\n", 10) != 0) {
        return 0;
    }
    p += 10;

    /* Field lines: tchar+ ":" OWS value CRLF, until the empty line. */
    for (;;) {
        const unsigned char *name = p, *value;
        Py_ssize_t name_len, value_len;
        if (end - p < 2) {
            return 0; /* incomplete, or over max_head */
        }
        if (p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        while (p < end && is_tchar[*p]) {
            p++;
        }
        name_len = p - name;
        if (name_len == 0 || p >= end || *p != ':') {
            return 0;
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        value = p;
        /* llhttp keeps trailing whitespace in a value: so does this. */
        while (p < end && ((*p >= 0x20 && *p <= 0x7e) || *p == '\t')) {
            p++;
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            return 0; /* a control character, obs-text, a bare LF, or no end yet */
        }
        value_len = p - value;
        p += 2;
        if (count == SIMPLE_MAX_FIELDS || count >= max_fields || name_len > max_field
            || value_len > max_field) {
            return 0; /* the full way says which limit, and answers */
        }
        if (name_is(name, name_len, "host")) {
            hosts++;
            if (!simple_host(value, value_len)) {
                return 0;
            }
        }
        else if (name_is(name, name_len, "connection")) {
            /* Only a kept-alive connection: llhttp refuses what follows a "close". */
            if (connections++ || !name_is(value, value_len, "keep-alive")) {
                return 0;
            }
        }
        else if (name_is(name, name_len, "content-length")
                 || name_is(name, name_len, "transfer-encoding")
                 || name_is(name, name_len, "content-encoding")
                 || name_is(name, name_len, "upgrade") || name_is(name, name_len, "expect")
                 || name_is(name, name_len, "proxy-connection")) {
            return 0; /* a body, an upgrade, an expectation: the full way */
        }
        out->fields[count].name = name - data;
        out->fields[count].name_len = name_len;
        out->fields[count].value = value - data;
        out->fields[count].value_len = value_len;
        count++;
    }
    if (hosts != 1) {
        return 0;
    }
    out->end = p - data;
    out->method = method;
    out->target = target - data;
    out->target_len = target_len;
    out->query = query == NULL ? -1 : query - data;
    out->count = count;
    return 1;
}

/* The Python values of a scanned head: new references in *fields, *path, *qs, or -1 with
 * an exception set and nothing to release. */
static int
scan_values(const unsigned char *data, const simple_scan *scan, PyObject **fields,
            PyObject **path, PyObject **qs)
{
    Py_ssize_t i;
    const char *target = (const char *)data + scan->target;
    PyObject *list = PyList_New(scan->count);

    if (list == NULL) {
        return -1;
    }
    for (i = 0; i < scan->count; i++) {
        const field_span *f = &scan->fields[i];
        PyObject *name = PyBytes_FromStringAndSize((const char *)data + f->name, f->name_len);
        PyObject *value = PyBytes_FromStringAndSize((const char *)data + f->value,
                                                    f->value_len);
        PyObject *pair = (name && value) ? PyTuple_Pack(2, name, value) : NULL;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (pair == NULL) {
            Py_DECREF(list);
            return -1;
        }
        PyList_SET_ITEM(list, i, pair);
    }
    if (scan->query < 0) {
        *path = PyUnicode_DecodeASCII(target, scan->target_len, NULL);
        *qs = empty_str;
        Py_INCREF(empty_str);
    }
    else {
        Py_ssize_t before = scan->query - scan->target;
        *path = PyUnicode_DecodeASCII(target, before, NULL);
        *qs = PyUnicode_DecodeASCII(target + before + 1, scan->target_len - before - 1, NULL);
    }
    if (*path == NULL || *qs == NULL) {
        Py_DECREF(list);
        Py_CLEAR(*path);
        Py_CLEAR(*qs);
        return -1;
    }
    *fields = list;
    return 0;
}

/* The four slots simple_heads writes into each copy of the template: the byte offsets of
 * these __slots__ members in the template's type, looked up once per type. */
static PyTypeObject *template_type = NULL;
static Py_ssize_t slot_raw, slot_method, slot_path, slot_query;
static const char *const written_slots[4] = {"_raw", "method", "path", "query_string"};

/* 0 when ``type`` is one simple_heads can copy: a class of __slots__ alone, directly on
 * object, with the four slots written; -1 with TypeError otherwise. */
static int
learn_template_type(PyTypeObject *type)
{
    Py_ssize_t *offsets[4] = {&slot_raw, &slot_method, &slot_path, &slot_query};
    Py_ssize_t found[4] = {-1, -1, -1, -1};
    PyMemberDef *member;
    int i;

    if (type == template_type) {
        return 0;
    }
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || type->tp_base != &PyBaseObject_Type
        || type->tp_dictoffset != 0 || type->tp_itemsize != 0 || type->tp_members == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "simple_heads() template must be of a __slots__ class on object");
        return -1;
    }
    for (member = type->tp_members; member->name != NULL; member++) {
        if (member->type != T_OBJECT_EX) {
            PyErr_SetString(PyExc_TypeError, "simple_heads() template has a non-slot member");
            return -1;
        }
        for (i = 0; i < 4; i++) {
            if (strcmp(member->name, written_slots[i]) == 0) {
                found[i] = member->offset;
            }
        }
    }
    for (i = 0; i < 4; i++) {
        if (found[i] < 0) {
            PyErr_Format(PyExc_TypeError, "simple_heads() template has no slot %s",
                         written_slots[i]);
            return -1;
        }
    }
    for (i = 0; i < 4; i++) {
        *offsets[i] = found[i];
    }
    Py_INCREF(type);
    Py_XSETREF(template_type, type);
    return 0;
}

/* A new object of the template's type with every slot the template's, then the four
 * written ones replaced (the references to them are stolen). */
static PyObject *
copy_template(PyObject *template, PyObject *raw, PyObject *method, PyObject *path,
              PyObject *qs)
{
    PyTypeObject *type = Py_TYPE(template);
    PyObject *head = type->tp_alloc(type, 0);
    PyMemberDef *member;

    if (head == NULL) {
        Py_DECREF(raw);
        Py_DECREF(path);
        Py_DECREF(qs);
        return NULL;
    }
    for (member = type->tp_members; member->name != NULL; member++) {
        PyObject *value = *(PyObject **)((char *)template + member->offset);
        Py_XINCREF(value);
        *(PyObject **)((char *)head + member->offset) = value;
    }
#define PUT_SLOT(offset, value)                                          \
    do {                                                                 \
        PyObject **slot = (PyObject **)((char *)head + (offset));        \
        Py_XSETREF(*slot, (value));                                      \
    } while (0)
    Py_INCREF(method);
    PUT_SLOT(slot_raw, raw);
    PUT_SLOT(slot_method, method);
    PUT_SLOT(slot_path, path);
    PUT_SLOT(slot_query, qs);
#undef PUT_SLOT
    return head;
}

PyDoc_STRVAR(simple_head_doc,
"simple_head(data, pos, max_line, max_field, max_fields, max_head, /) -> tuple | None\n\n"
"The complete request head at ``data[pos:]`` when it is of the plain kind most clients\n"
"send (see native_server/wire/simple_head.py): ``(end, method, path, query, fields)``.\n"
"Otherwise None, having taken nothing: the caller parses those bytes the full way.");

static PyObject *
simple_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos;
    scan_limits limits;
    simple_scan scan;
    PyObject *fields, *path, *qs, *head_end, *result = NULL;

    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "simple_head() takes exactly 6 arguments");
        return NULL;
    }
    if (read_scan_args(args, &pos, &limits) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (!scan_simple((const unsigned char *)view.buf, view.len, pos, &limits, &scan)) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    if (scan_values((const unsigned char *)view.buf, &scan, &fields, &path, &qs) == 0) {
        head_end = PyLong_FromSsize_t(scan.end);
        if (head_end != NULL) {
            result = PyTuple_Pack(5, head_end, scan.method, path, qs, fields);
            Py_DECREF(head_end);
        }
        Py_DECREF(fields);
        Py_DECREF(path);
        Py_DECREF(qs);
    }
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(simple_heads_doc,
"simple_heads(data, pos, max_line, max_field, max_fields, max_head, template, events,\n"
"             end, /) -> int\n\n"
"Every plain head from ``data[pos:]`` on, one after the other, as simple_head reads\n"
"them: for each, a copy of ``template`` (an object of __slots__) with ``_raw``,\n"
"``method``, ``path`` and ``query_string`` set is appended to the list ``events``,\n"
"then ``end``. Returns the offset where the plain heads stop (``pos`` when none).");

static PyObject *
simple_heads(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos;
    scan_limits limits;
    const unsigned char *data;
    PyObject *template, *events, *end_marker;
    simple_scan scan;

    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "simple_heads() takes exactly 9 arguments");
        return NULL;
    }
    if (read_scan_args(args, &pos, &limits) < 0) {
        return NULL;
    }
    template = args[6];
    events = args[7];
    end_marker = args[8];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "simple_heads() events must be a list");
        return NULL;
    }
    if (learn_template_type(Py_TYPE(template)) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    data = (const unsigned char *)view.buf;
    while (scan_simple(data, view.len, pos, &limits, &scan)) {
        PyObject *fields, *path, *qs, *head;
        int failed;
        if (scan_values(data, &scan, &fields, &path, &qs) < 0) {
            goto error;
        }
        head = copy_template(template, fields, scan.method, path, qs);
        if (head == NULL) {
            goto error;
        }
        failed = PyList_Append(events, head) < 0 || PyList_Append(events, end_marker) < 0;
        Py_DECREF(head);
        if (failed) {
            goto error;
        }
        pos = scan.end;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(pos);

error:
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"unmask", (PyCFunction)(void (*)(void))unmask, METH_FASTCALL, unmask_doc},
    {"small_frame", (PyCFunction)(void (*)(void))small_frame, METH_FASTCALL, small_frame_doc},
    {"plain_frame", (PyCFunction)(void (*)(void))plain_frame, METH_FASTCALL, plain_frame_doc},
    {"serialize_head", (PyCFunction)(void (*)(void))serialize_head, METH_FASTCALL,
     serialize_head_doc},
    {"simple_head", (PyCFunction)(void (*)(void))simple_head, METH_FASTCALL, simple_head_doc},
    {"simple_heads", (PyCFunction)(void (*)(void))simple_heads, METH_FASTCALL,
     simple_heads_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "native_server.wire._speedups",
    "Compiled twins of a few wire functions; see native_server/wire/accel.py.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *types, *kinds;

    if (message_type == NULL) {
        types = PyImport_ImportModule("asgiweb.ws_types");
        if (types == NULL) {
            return NULL;
        }
        message_type = (PyTypeObject *)PyObject_GetAttrString(types, "WSMessage");
        kinds = PyObject_GetAttrString(types, "WSMsgType");
        Py_DECREF(types);
        if (message_type == NULL || kinds == NULL) {
            Py_CLEAR(message_type);
            Py_XDECREF(kinds);
            return NULL;
        }
        text_kind = PyObject_GetAttrString(kinds, "TEXT");
        binary_kind = PyObject_GetAttrString(kinds, "BINARY");
        Py_DECREF(kinds);
        empty_str = PyUnicode_FromStringAndSize("", 0);
        if (text_kind == NULL || binary_kind == NULL || empty_str == NULL
            || !PyType_Check(message_type)
            || !PyType_IsSubtype(message_type, &PyTuple_Type)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "WSMessage must be a tuple type");
            }
            Py_CLEAR(message_type);
            Py_CLEAR(text_kind);
            Py_CLEAR(binary_kind);
            Py_CLEAR(empty_str);
            return NULL;
        }
    }
    if (method_names[0] == NULL) {
        const char *tchars = "!#$%&'*+-.^_`|~";
        int c;
        for (c = 0; c < 256; c++) {
            is_tchar[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                          || (c >= '0' && c <= '9') || (c && strchr(tchars, c) != NULL);
        }
        for (c = 0; c < 7; c++) {
            method_names[c] = PyUnicode_InternFromString(method_spellings[c]);
            if (method_names[c] == NULL) {
                return NULL;
            }
        }
    }
    return PyModule_Create(&module_def);
}
