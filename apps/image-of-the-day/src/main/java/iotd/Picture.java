package iotd;

import com.google.gson.JsonObject;

/** One astronomy picture, as served at {@code GET /image}. */
public record Picture(String url, String caption, String copyright) {

    public JsonObject toJson() {
        JsonObject json = new JsonObject();
        json.addProperty("url", url);
        json.addProperty("caption", caption);
        json.addProperty("copyright", copyright);
        return json;
    }
}
