package iotd;

import java.io.IOException;

/** Somewhere today's picture can be fetched from. */
public interface PictureSource {

    Picture fetch() throws IOException, InterruptedException;
}
